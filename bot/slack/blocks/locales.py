"""What the bot itself says in a customer's thread, in the customer's language.

``STRINGS`` is the translated set for English, German, French, Spanish, Portuguese and Japanese:
the greeting, the holding replies, the "still on it" message, the line, "Sources" and buttons
under an answer, the resolved notes, and the private replies to the customer's buttons. For
another language the model translates the English set once and the translation is stored
(``bot/tickets/languages.py``); without a model, such a customer reads English. ``{hours}`` and
``{when}`` are filled in by the builders; every language keeps the same placeholders (a test
checks it, and that each text fits the Slack field it goes in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.slack.limits import BUTTON_TEXT_MAX

ENGLISH = "en"

KEYS = (
    "greeting",
    "holding",
    "holding_away",
    "still_on_it",
    "reach_a_person",
    "helpful",
    "talk_to_person",
    "sources",
    "resolved_by_bot",
    "resolved_by_team",
    "resolved_by_customer",
    "person_asked",
    "person_already",
    "person_wait",
    "thanks_feedback",
    "feedback_again",
    "thanks_resolved",
)
# Button labels (Slack: 75 characters); the other texts go in messages and context blocks.
BUTTON_KEYS = ("helpful", "talk_to_person")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": (
            "Hi! :wave: What can I help you with? Write your question here in this thread, and"
            " I'll answer it or pass it to the team."
        ),
        "holding": (
            "Thanks for your question! I've passed it to the team, and someone will reply in"
            " this thread as soon as they can."
        ),
        "holding_away": (
            "Thanks for your question! I've passed it to the team. They're away right now"
            " (support hours: {hours}) and will reply in this thread when they're back, {when}."
        ),
        "still_on_it": (
            "Sorry for the wait! The team is still on your question and will reply in this thread."
        ),
        "reach_a_person": (
            "Not what you needed? Press *Talk to a person* or reply *talk to a person* in this"
            " thread, and a teammate will pick it up."
        ),
        "helpful": "👍 Helpful",
        "talk_to_person": "Talk to a person",
        "sources": "Sources",
        "resolved_by_bot": (
            "I've marked this conversation resolved since it has been quiet for a while. Reply"
            " here any time if you still need help, and it will reopen."
        ),
        "resolved_by_team": (
            "The team marked this conversation resolved. Reply here if you need anything else."
        ),
        "resolved_by_customer": (
            "Glad that helped! :tada: I've marked this conversation resolved. Reply here any time"
            " if you need anything else, and it will reopen."
        ),
        "person_asked": "Done: I've asked a teammate to join. They will reply in this thread.",
        "person_already": "A teammate already has this conversation and will reply in the thread.",
        "person_wait": (
            "I'm still working on your latest message. If my answer doesn't help, press"
            " *Talk to a person* under it."
        ),
        "thanks_feedback": "Thanks for letting us know!",
        "feedback_again": "You already told us; thanks!",
        "thanks_resolved": "Thanks for letting us know! I've marked this conversation resolved.",
    },
    "de": {
        "greeting": (
            "Hallo! :wave: Wobei kann ich helfen? Schreib deine Frage hier in diesen Thread, dann"
            " beantworte ich sie oder gebe sie an das Team weiter."
        ),
        "holding": (
            "Danke für deine Frage! Ich habe sie an das Team weitergegeben; jemand antwortet so"
            " bald wie möglich hier im Thread."
        ),
        "holding_away": (
            "Danke für deine Frage! Ich habe sie an das Team weitergegeben. Das Team ist gerade"
            " nicht da (Supportzeiten: {hours}) und antwortet hier im Thread, sobald es zurück"
            " ist, {when}."
        ),
        "still_on_it": (
            "Entschuldige die Wartezeit! Das Team kümmert sich weiter um deine Frage und"
            " antwortet hier im Thread."
        ),
        "reach_a_person": (
            "Nicht das, was du gesucht hast? Klicke auf *Mit einem Menschen sprechen* oder"
            " schreib es hier in den Thread, dann übernimmt jemand aus dem Team."
        ),
        "helpful": "👍 Hilfreich",
        "talk_to_person": "Mit einem Menschen sprechen",
        "sources": "Quellen",
        "resolved_by_bot": (
            "Ich habe dieses Gespräch als erledigt markiert, weil es eine Weile ruhig war."
            " Antworte hier jederzeit, wenn du noch Hilfe brauchst, dann wird es wieder geöffnet."
        ),
        "resolved_by_team": (
            "Das Team hat dieses Gespräch als erledigt markiert. Antworte hier, wenn du noch"
            " etwas brauchst."
        ),
        "resolved_by_customer": (
            "Schön, dass es geholfen hat! :tada: Ich habe dieses Gespräch als erledigt markiert."
            " Antworte hier jederzeit, wenn du noch etwas brauchst, dann wird es wieder geöffnet."
        ),
        "person_asked": (
            "Erledigt: Ich habe jemanden aus dem Team dazugeholt. Die Antwort kommt hier im Thread."
        ),
        "person_already": (
            "Jemand aus dem Team kümmert sich bereits um dieses Gespräch und antwortet im Thread."
        ),
        "person_wait": (
            "Ich arbeite noch an deiner letzten Nachricht. Wenn meine Antwort nicht hilft, klicke"
            " darunter auf *Mit einem Menschen sprechen*."
        ),
        "thanks_feedback": "Danke für die Rückmeldung!",
        "feedback_again": "Das hast du uns schon gesagt, danke!",
        "thanks_resolved": (
            "Danke für die Rückmeldung! Ich habe diese Unterhaltung als gelöst markiert."
        ),
    },
    "fr": {
        "greeting": (
            "Bonjour ! :wave: Comment puis-je vous aider ? Écrivez votre question ici, dans ce"
            " fil, et j'y répondrai ou je la transmettrai à l'équipe."
        ),
        "holding": (
            "Merci pour votre question ! Je l'ai transmise à l'équipe ; quelqu'un vous répondra"
            " dans ce fil dès que possible."
        ),
        "holding_away": (
            "Merci pour votre question ! Je l'ai transmise à l'équipe. Elle est absente pour le"
            " moment (horaires du support : {hours}) et vous répondra dans ce fil à son retour,"
            " {when}."
        ),
        "still_on_it": (
            "Désolé pour l'attente ! L'équipe s'occupe toujours de votre question et vous"
            " répondra dans ce fil."
        ),
        "reach_a_person": (
            "Ce n'est pas ce qu'il vous fallait ? Cliquez sur *Parler à une personne* ou"
            " demandez-le dans ce fil, et un membre de l'équipe prendra le relais."
        ),
        "helpful": "👍 Utile",
        "talk_to_person": "Parler à une personne",
        "sources": "Sources",
        "resolved_by_bot": (
            "J'ai marqué cette conversation comme résolue, car elle est calme depuis un moment."
            " Répondez ici à tout moment si vous avez encore besoin d'aide : elle sera rouverte."
        ),
        "resolved_by_team": (
            "L'équipe a marqué cette conversation comme résolue. Répondez ici si vous avez"
            " besoin d'autre chose."
        ),
        "resolved_by_customer": (
            "Ravi que cela ait aidé ! :tada: J'ai marqué cette conversation comme résolue."
            " Répondez ici à tout moment si vous avez besoin d'autre chose : elle sera rouverte."
        ),
        "person_asked": (
            "C'est fait : j'ai demandé à un membre de l'équipe de vous rejoindre. Il vous"
            " répondra dans ce fil."
        ),
        "person_already": (
            "Un membre de l'équipe s'occupe déjà de cette conversation et vous répondra dans"
            " le fil."
        ),
        "person_wait": (
            "Je travaille encore sur votre dernier message. Si ma réponse ne vous aide pas,"
            " cliquez sur *Parler à une personne* en dessous."
        ),
        "thanks_feedback": "Merci pour votre retour !",
        "feedback_again": "Vous nous l'avez déjà dit, merci !",
        "thanks_resolved": (
            "Merci de nous l'avoir dit ! J'ai marqué cette conversation comme résolue."
        ),
    },
    "es": {
        "greeting": (
            "¡Hola! :wave: ¿En qué puedo ayudarte? Escribe tu pregunta aquí, en este hilo, y la"
            " responderé o se la pasaré al equipo."
        ),
        "holding": (
            "¡Gracias por tu pregunta! Se la he pasado al equipo y alguien te responderá en este"
            " hilo lo antes posible."
        ),
        "holding_away": (
            "¡Gracias por tu pregunta! Se la he pasado al equipo. Ahora mismo no está (horario"
            " de soporte: {hours}) y te responderá en este hilo cuando vuelva, {when}."
        ),
        "still_on_it": (
            "¡Perdona la espera! El equipo sigue con tu pregunta y te responderá en este hilo."
        ),
        "reach_a_person": (
            "¿No era lo que necesitabas? Pulsa *Hablar con una persona* o pídelo en este hilo,"
            " y alguien del equipo se encargará."
        ),
        "helpful": "👍 Útil",
        "talk_to_person": "Hablar con una persona",
        "sources": "Fuentes",
        "resolved_by_bot": (
            "He marcado esta conversación como resuelta porque lleva un tiempo sin actividad."
            " Responde aquí cuando quieras si aún necesitas ayuda y se volverá a abrir."
        ),
        "resolved_by_team": (
            "El equipo ha marcado esta conversación como resuelta. Responde aquí si necesitas"
            " algo más."
        ),
        "resolved_by_customer": (
            "¡Me alegra que te haya servido! :tada: He marcado esta conversación como resuelta."
            " Responde aquí cuando quieras si necesitas algo más y se volverá a abrir."
        ),
        "person_asked": (
            "Hecho: he pedido a alguien del equipo que se una. Te responderá en este hilo."
        ),
        "person_already": (
            "Alguien del equipo ya lleva esta conversación y te responderá en el hilo."
        ),
        "person_wait": (
            "Todavía estoy con tu último mensaje. Si mi respuesta no te ayuda, pulsa *Hablar con"
            " una persona* debajo."
        ),
        "thanks_feedback": "¡Gracias por avisarnos!",
        "feedback_again": "Ya nos lo dijiste, ¡gracias!",
        "thanks_resolved": "¡Gracias por avisarnos! He marcado esta conversación como resuelta.",
    },
    "pt": {
        "greeting": (
            "Olá! :wave: Como posso ajudar? Escreva sua pergunta aqui neste tópico, e eu vou"
            " respondê-la ou passá-la para a equipe."
        ),
        "holding": (
            "Obrigado pela pergunta! Passei para a equipe, e alguém vai responder neste tópico"
            " assim que possível."
        ),
        "holding_away": (
            "Obrigado pela pergunta! Passei para a equipe. Ela está fora agora (horário de"
            " suporte: {hours}) e vai responder neste tópico quando voltar, {when}."
        ),
        "still_on_it": (
            "Desculpe a demora! A equipe continua cuidando da sua pergunta e vai responder neste"
            " tópico."
        ),
        "reach_a_person": (
            "Não era o que você precisava? Clique em *Falar com uma pessoa* ou peça neste"
            " tópico, e alguém da equipe vai assumir."
        ),
        "helpful": "👍 Útil",
        "talk_to_person": "Falar com uma pessoa",
        "sources": "Fontes",
        "resolved_by_bot": (
            "Marquei esta conversa como resolvida porque ela está parada há algum tempo."
            " Responda aqui quando quiser se ainda precisar de ajuda, e ela será reaberta."
        ),
        "resolved_by_team": (
            "A equipe marcou esta conversa como resolvida. Responda aqui se precisar de mais"
            " alguma coisa."
        ),
        "resolved_by_customer": (
            "Que bom que ajudou! :tada: Marquei esta conversa como resolvida. Responda aqui"
            " quando quiser se precisar de mais alguma coisa, e ela será reaberta."
        ),
        "person_asked": (
            "Pronto: pedi para alguém da equipe entrar na conversa. A resposta vem neste tópico."
        ),
        "person_already": (
            "Alguém da equipe já está cuidando desta conversa e vai responder no tópico."
        ),
        "person_wait": (
            "Ainda estou trabalhando na sua última mensagem. Se a minha resposta não ajudar,"
            " clique em *Falar com uma pessoa* embaixo dela."
        ),
        "thanks_feedback": "Obrigado pelo retorno!",
        "feedback_again": "Você já nos disse isso, obrigado!",
        "thanks_resolved": "Obrigado por nos avisar! Marquei esta conversa como resolvida.",
    },
    "ja": {
        "greeting": (
            "こんにちは！:wave: どのようなご用件でしょうか？"
            "このスレッドにご質問を書いていただければ、お答えするかチームにおつなぎします。"
        ),
        "holding": (
            "ご質問ありがとうございます！チームに引き継ぎました。できるだけ早くこのスレッドで担当者が"
            "お返事します。"
        ),
        "holding_away": (
            "ご質問ありがとうございます！チームに引き継ぎました。ただいま対応時間外です"
            "（サポート時間：{hours}）。{when}以降、このスレッドでお返事します。"
        ),
        "still_on_it": (
            "お待たせして申し訳ありません。チームが引き続きご質問に対応しており、このスレッドでお返事します。"
        ),
        "reach_a_person": (
            "解決しませんでしたか？*担当者と話す* を押すか、このスレッドでお知らせください。"
            "チームの担当者が対応します。"
        ),
        "helpful": "👍 役に立った",
        "talk_to_person": "担当者と話す",
        "sources": "出典",
        "resolved_by_bot": (
            "しばらくやり取りがなかったため、この会話を解決済みにしました。まだお困りの場合は、"
            "いつでもここに返信してください。会話が再開されます。"
        ),
        "resolved_by_team": (
            "チームがこの会話を解決済みにしました。ほかにご用件があれば、ここに返信してください。"
        ),
        "resolved_by_customer": (
            "お役に立ててよかったです！:tada: この会話を解決済みにしました。ほかにご用件があれば、"
            "いつでもここに返信してください。会話が再開されます。"
        ),
        "person_asked": "担当者に参加を依頼しました。このスレッドでお返事します。",
        "person_already": "すでに担当者がこの会話を担当しており、スレッドでお返事します。",
        "person_wait": (
            "最新のメッセージをまだ確認中です。回答が役に立たなかった場合は、その下の"
            " *担当者と話す* を押してください。"
        ),
        "thanks_feedback": "ご意見ありがとうございます！",
        "feedback_again": "すでにお知らせいただいています。ありがとうございます！",
        "thanks_resolved": "お知らせいただきありがとうございます！この会話を解決済みにしました。",
    },
}


@dataclass(frozen=True)
class Locale:
    """The bot's own texts in one language (``code``); English where a text is missing."""

    code: str
    texts: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        text = self.texts.get(key)
        return text if text else STRINGS[ENGLISH][key]


def builtin(code: str | None) -> Locale | None:
    """The translated set for ``code`` when this table has it."""
    texts = STRINGS.get(code or ENGLISH)
    return None if texts is None else Locale(code or ENGLISH, texts)


ENGLISH_LOCALE = Locale(ENGLISH, STRINGS[ENGLISH])


def usable_translation(texts: Mapping[str, object]) -> dict[str, str] | None:
    """A model's translation of the English set, if it can stand in for it: every key, each a
    non-empty string with the English text's placeholders, buttons within Slack's limit."""
    kept: dict[str, str] = {}
    for key in KEYS:
        value = texts.get(key)
        if not isinstance(value, str) or not value.strip():
            return None
        if set(PLACEHOLDER.findall(value)) != set(PLACEHOLDER.findall(STRINGS[ENGLISH][key])):
            return None
        if key in BUTTON_KEYS and len(value) > BUTTON_TEXT_MAX:
            return None
        kept[key] = value.strip()
    return kept
