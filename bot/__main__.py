"""``python -m bot`` is the ``support-bot`` command."""

from bot.cli.main import main

raise SystemExit(main())
