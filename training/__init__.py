"""Programs that make the bundled artefacts (not part of the installed package)."""
