"""Block Kit builders: pure functions from domain values to Slack payloads, within Slack's
limits (``bot.slack.limits``). Import from the module that builds what you need:

- ``answers``: what the bot posts in the customer's thread (answer, holding reply, …)
- ``card``: the review card in the escalation channel, and the notices beside it
- ``modals``: Edit, Redraft, Answer the bot, and the article form
- ``home``: the App Home tab
- ``settings_form``: the ``/support config`` modal
- ``trace`` and ``digest``: ``/support trace`` and the daily digest
- ``command_replies``: the text of ``/support help`` and ``/support kb search``
- ``common``: the text objects, sections, context lines and buttons they share
"""
