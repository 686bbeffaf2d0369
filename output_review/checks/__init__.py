"""The built-in checks, one nbconvert Preprocessor per file; see ``base.OutputCheck``."""
