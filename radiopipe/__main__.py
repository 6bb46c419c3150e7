"""Allow ``python -m radiopipe``."""

from radiopipe.cli import main

if __name__ == "__main__":
    main()
