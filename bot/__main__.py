"""``python -m bot`` is the ``support-bot`` command."""

from bot.cli import main

raise SystemExit(main())
