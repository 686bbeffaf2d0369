"""The data of the labelled corpus, made the same way in the kernel that runs the cases and
in the labeller (``labels.py``): students (with and without rare groups), incomes where one
record dominates, and non-student tables shaped like penguins, Titanic passengers, Pokémon
and cities. Deterministic: a seeded generator."""

import numpy as np
import pandas as pd

SCHOOLS = ["Bayview", "Hillcrest", "Lakeside", "Northgate"]
ETHNICITIES = ["Asian", "Black", "Hispanic", "White"]
ALPHABET = list("0123456789abcdefghjkmnpqrstvwxyz")
GIVEN = ["Owen", "Mary", "James", "Anna", "John", "Ellen", "William", "Alice", "Thomas", "Rose"]
FAMILY = ["Braund", "Cumings", "Heikkinen", "Futrelle", "Allen", "Moran", "McCarthy", "Palsson"]


def students(seed: int = 2026, n: int = 2400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "student_key": ["stu_" + "".join(rng.choice(ALPHABET, 26)) for _ in range(n)],
            "school": rng.choice(SCHOOLS, n),
            "gender": rng.choice(["F", "M"], n),
            "ethnicity": rng.choice(ETHNICITIES, n),
            "grade_level": rng.integers(9, 13, n),
            "academic_year": rng.choice([2019, 2020, 2021], n),
            "gpa": rng.uniform(1.0, 4.0, n).round(2),
            "credits": rng.integers(2, 7, n) * 5,
            "income": rng.lognormal(10, 0.4, n).round(0),
            "passed": (rng.uniform(0, 1, n) < 0.6).astype(int),
        }
    )


def rare(frame: pd.DataFrame) -> pd.DataFrame:
    """The same students, four of them at a school of their own and three in a rare group."""
    out = frame.copy()
    out.loc[:3, "school"] = "Seaside"
    out.loc[4:6, "ethnicity"] = "Pacific Islander"
    return out


def incomes(seed: int = 7) -> pd.DataFrame:
    """Household incomes by school; at Hillcrest one household is 95% of the total."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"school": np.repeat(SCHOOLS, 50), "income": rng.lognormal(10, 0.3, 200).round(0)}
    )
    frame.loc[frame.index[frame.school == "Hillcrest"][0], "income"] = 60_000_000
    return frame


def penguins(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    species = np.array(["Adelie"] * 152 + ["Gentoo"] * 124 + ["Chinstrap"] * 68)
    island = np.where(
        species == "Adelie",
        rng.choice(["Biscoe", "Dream", "Torgersen"], len(species)),
        np.where(species == "Gentoo", "Biscoe", "Dream"),
    )
    return pd.DataFrame(
        {
            "species": species,
            "island": island,
            "bill_length_mm": rng.normal(44, 5, len(species)).round(1),
            "flipper_length_mm": rng.normal(200, 14, len(species)).round(0),
            "body_mass_g": rng.normal(4200, 800, len(species)).round(0),
            "sex": rng.choice(["male", "female"], len(species)),
        }
    )


def titanic(seed: int = 5, n: int = 891) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n, p=[0.65, 0.35])
    pclass = rng.choice([1, 2, 3], n, p=[0.24, 0.21, 0.55])
    survived = (rng.uniform(0, 1, n) < np.where(sex == "female", 0.7, 0.2)).astype(int)
    names = [
        f"{FAMILY[i % len(FAMILY)]}, {'Mrs.' if s == 'female' else 'Mr.'} {GIVEN[i % len(GIVEN)]}"
        for i, s in enumerate(sex)
    ]
    return pd.DataFrame(
        {
            "PassengerId": np.arange(1, n + 1),
            "Survived": survived,
            "Pclass": pclass,
            "Name": names,
            "Sex": sex,
            "Age": rng.integers(1, 75, n),
            "SibSp": rng.integers(0, 4, n),
            "Parch": rng.integers(0, 3, n),
            "Fare": rng.lognormal(3, 0.8, n).round(2),
        }
    )


def pokemon() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Bulbasaur", "Ivysaur", "Charmander", "Squirtle", "Mr. Mime", "Pikachu"],
            "type": ["Grass", "Grass", "Fire", "Water", "Psychic", "Electric"],
            "hp": [45, 60, 39, 44, 40, 35],
            "attack": [49, 62, 52, 48, 45, 55],
        }
    )


def cities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["San Francisco", "Paris", "Austin", "Salt Lake City", "New York"],
            "population": [873_965, 2_102_650, 961_855, 200_133, 8_336_817],
        }
    )


def frames() -> dict:
    safe = students()
    return {
        "safe": safe,
        "rare": rare(safe),
        "incomes": incomes(),
        "penguins": penguins(),
        "titanic": titanic(),
        "pokemon": pokemon(),
        "cities": cities(),
    }
