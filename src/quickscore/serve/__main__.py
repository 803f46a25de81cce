"""``python -m quickscore.serve [MODEL_DIR] ...``: the same as ``quickscore serve``."""

from quickscore.serve._cli import serve

if __name__ == "__main__":
    serve(prog_name="quickscore serve")
