"""``python -m sepconv_cli`` runs the command-line tool."""

from sepconv_cli.cli.app import main

if __name__ == "__main__":
    main()
