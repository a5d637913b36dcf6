"""``python -m sbmleq``: the command line (:func:`sbmleq.cli.main.main`)."""

from sbmleq.cli.main import main

if __name__ == "__main__":
    main()
