"""``python -m quickscore ...``: the ``quickscore`` command (see ``quickscore.cli``)."""

from quickscore.cli import main

main()
