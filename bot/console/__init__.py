"""The console adapter: a terminal chat with the bot, for demonstrations, trials and tests.

`bot.app.run_console` wires it to the app; this package knows only the neutral vocabulary.
"""

from bot.console.screen import ConsoleMessenger, Screen
from bot.console.session import CONSOLE_HELP, NAME, Console

__all__ = ["CONSOLE_HELP", "NAME", "Console", "ConsoleMessenger", "Screen"]
