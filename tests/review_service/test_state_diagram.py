"""The READMEs' state diagram and table are what the transition table generates."""

from pathlib import Path

from enclave.review_service import diagram
from enclave.review_service.states import TRANSITIONS

REPO = Path(__file__).resolve().parents[2]
READMES = [REPO / "README.md", REPO / "review_service" / "README.md"]


def test_the_readmes_show_the_table_as_it_is():
    assert diagram.main(["--check", *map(str, READMES)]) == 0


def test_every_transition_is_drawn_once():
    edges = [line for line in diagram.mermaid().splitlines() if "-->" in line]
    moves = sum(len(m) for m in TRANSITIONS.values())
    terminal = sum(not m for m in TRANSITIONS.values())
    assert len(edges) == 1 + moves + terminal  # the start, every move, every end


def test_a_stale_diagram_is_found_and_rewritten(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{diagram.BEGIN}\nsubmitted --> released\n{diagram.END}\nafter\n")
    assert diagram.main(["--check", str(readme)]) == 1
    assert "stale" in capsys.readouterr().out
    assert diagram.main([str(readme)]) == 0
    assert diagram.main(["--check", str(readme)]) == 0
    assert readme.read_text().endswith(f"{diagram.END}\nafter\n")
    (tmp_path / "bare.md").write_text("no markers\n")
    assert diagram.main(["--check", str(tmp_path / "bare.md")]) == 1
