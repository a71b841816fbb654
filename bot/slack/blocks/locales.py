"""What the bot itself says in a customer's thread, in the customer's language.

``STRINGS`` is the translated set for English, German, French, Spanish, Portuguese and Japanese:
the greeting, the holding replies, the "still on it" message, the line, "Sources" and buttons
under an answer, the resolved notes, the private replies to the customer's buttons, and the
satisfaction survey (the question, "Add a comment", its form and what a rater is told). For
another language the model translates the English set once and the translation is stored
(``bot/tickets/languages.py``); without a model, such a customer reads English, and a stored
translation made before a key was added shows that key in English until it is translated again.
``{hours}``, ``{when}``, ``{score}``, ``{max}`` and ``{length}`` are filled in by the builders;
every language keeps the same placeholders (a test checks it, and that each text fits the Slack
field it goes in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.slack.limits import (
    BUTTON_TEXT_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    PLACEHOLDER_MAX,
    SECTION_TEXT_MAX,
)

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
    "csat_question",
    "csat_recorded",
    "csat_add_comment",
    "csat_thanks",
    "csat_changed",
    "csat_same",
    "csat_team_rated",
    "csat_score_first",
    "csat_not_rater",
    "csat_form_title",
    "csat_form_send",
    "csat_form_cancel",
    "csat_form_close",
    "csat_form_intro",
    "csat_form_label",
    "csat_form_placeholder",
    "csat_comment_empty",
    "csat_comment_long",
    "csat_comment_thanks",
)
# Button labels (Slack: 75 characters); the comment form's title and its buttons (24); its
# placeholder (150); the other texts go in messages, context blocks, sections and labels.
BUTTON_KEYS = ("helpful", "talk_to_person", "csat_add_comment")
MODAL_KEYS = ("csat_form_title", "csat_form_send", "csat_form_cancel", "csat_form_close")
PLACEHOLDER_KEYS = ("csat_form_placeholder",)
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
        "csat_question": "*How did we do?* Rate this conversation from 1 (poor) to 5 (great).",
        "csat_recorded": "✅ Thanks, a rating was recorded. Want to tell us more? Add a comment.",
        "csat_add_comment": "💬 Add a comment",
        "csat_thanks": (
            "Thanks! You rated this conversation {score}/5. Press *Add a comment* under the"
            " survey if you'd like to tell us more."
        ),
        "csat_changed": "Changed: you now rate this conversation {score}/5. Thanks!",
        "csat_same": "You already rated this conversation {score}/5; thanks!",
        "csat_team_rated": (
            "Someone from your team already rated this conversation; thanks! Nothing was changed."
        ),
        "csat_score_first": "Pick a score from 1 to 5 first; then you can add a comment.",
        "csat_not_rater": (
            "Only the person who rated this conversation can add the comment. Nothing was recorded."
        ),
        "csat_form_title": "Your feedback",
        "csat_form_send": "Send",
        "csat_form_cancel": "Cancel",
        "csat_form_close": "Close",
        "csat_form_intro": (
            "You rated this conversation {score}/5. Only the support team reads this."
        ),
        "csat_form_label": "What went well, or what could we do better?",
        "csat_form_placeholder": "A sentence or two is plenty.",
        "csat_comment_empty": "Write a comment, or press Cancel to leave it out.",
        "csat_comment_long": (
            "Please keep it to {max} characters (this one has {length}); nothing was recorded yet."
        ),
        "csat_comment_thanks": "Thanks! Your comment was recorded; the support team will read it.",
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
        "csat_question": (
            "*Wie war unser Support?* Bewerte dieses Gespräch von 1 (schlecht) bis 5 (super)."
        ),
        "csat_recorded": (
            "✅ Danke, eine Bewertung wurde gespeichert. Magst du uns mehr erzählen? Füge einen"
            " Kommentar hinzu."
        ),
        "csat_add_comment": "💬 Kommentar hinzufügen",
        "csat_thanks": (
            "Danke! Du hast dieses Gespräch mit {score}/5 bewertet. Klicke unter der Umfrage auf"
            " *Kommentar hinzufügen*, wenn du uns mehr erzählen möchtest."
        ),
        "csat_changed": "Geändert: Deine Bewertung für dieses Gespräch ist jetzt {score}/5. Danke!",
        "csat_same": "Du hast dieses Gespräch schon mit {score}/5 bewertet, danke!",
        "csat_team_rated": (
            "Jemand aus deinem Team hat dieses Gespräch schon bewertet, danke! Es wurde nichts"
            " geändert."
        ),
        "csat_score_first": (
            "Wähle zuerst eine Bewertung von 1 bis 5, dann kannst du einen Kommentar hinzufügen."
        ),
        "csat_not_rater": (
            "Nur die Person, die dieses Gespräch bewertet hat, kann einen Kommentar hinzufügen."
            " Es wurde nichts gespeichert."
        ),
        "csat_form_title": "Dein Feedback",
        "csat_form_send": "Senden",
        "csat_form_cancel": "Abbrechen",
        "csat_form_close": "Schließen",
        "csat_form_intro": (
            "Du hast dieses Gespräch mit {score}/5 bewertet. Das liest nur das Support-Team."
        ),
        "csat_form_label": "Was lief gut, oder was können wir besser machen?",
        "csat_form_placeholder": "Ein, zwei Sätze reichen völlig.",
        "csat_comment_empty": (
            "Schreib einen Kommentar oder klicke auf Abbrechen, um ihn wegzulassen."
        ),
        "csat_comment_long": (
            "Bitte höchstens {max} Zeichen (dieser hat {length}); es wurde noch nichts gespeichert."
        ),
        "csat_comment_thanks": (
            "Danke! Dein Kommentar wurde gespeichert; das Support-Team wird ihn lesen."
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
        "csat_question": (
            "*Qu'avez-vous pensé de notre aide ?* Notez cette conversation de 1 (mauvais) à"
            " 5 (excellent)."
        ),
        "csat_recorded": (
            "✅ Merci, une note a été enregistrée. Vous voulez nous en dire plus ? Ajoutez un"
            " commentaire."
        ),
        "csat_add_comment": "💬 Ajouter un commentaire",
        "csat_thanks": (
            "Merci ! Vous avez noté cette conversation {score}/5. Cliquez sur *Ajouter un"
            " commentaire* sous le sondage si vous souhaitez nous en dire plus."
        ),
        "csat_changed": (
            "Note modifiée : vous donnez maintenant {score}/5 à cette conversation. Merci !"
        ),
        "csat_same": "Vous avez déjà noté cette conversation {score}/5, merci !",
        "csat_team_rated": (
            "Quelqu'un de votre équipe a déjà noté cette conversation, merci ! Rien n'a été"
            " modifié."
        ),
        "csat_score_first": (
            "Choisissez d'abord une note de 1 à 5 ; vous pourrez ensuite ajouter un commentaire."
        ),
        "csat_not_rater": (
            "Seule la personne qui a noté cette conversation peut ajouter le commentaire. Rien"
            " n'a été enregistré."
        ),
        "csat_form_title": "Votre avis",
        "csat_form_send": "Envoyer",
        "csat_form_cancel": "Annuler",
        "csat_form_close": "Fermer",
        "csat_form_intro": (
            "Vous avez noté cette conversation {score}/5. Seule l'équipe du support lira ceci."
        ),
        "csat_form_label": "Qu'est-ce qui s'est bien passé, ou que pourrions-nous améliorer ?",
        "csat_form_placeholder": "Une phrase ou deux suffisent.",
        "csat_comment_empty": "Écrivez un commentaire, ou cliquez sur Annuler pour vous en passer.",
        "csat_comment_long": (
            "Merci de vous limiter à {max} caractères (celui-ci en compte {length}) ; rien n'a"
            " encore été enregistré."
        ),
        "csat_comment_thanks": (
            "Merci ! Votre commentaire a été enregistré ; l'équipe du support le lira."
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
        "csat_question": (
            "*¿Qué tal lo hicimos?* Valora esta conversación del 1 (mal) al 5 (genial)."
        ),
        "csat_recorded": (
            "✅ Gracias, se ha registrado una valoración. ¿Quieres contarnos más? Añade un"
            " comentario."
        ),
        "csat_add_comment": "💬 Añadir un comentario",
        "csat_thanks": (
            "¡Gracias! Has valorado esta conversación con {score}/5. Pulsa *Añadir un"
            " comentario* debajo de la encuesta si quieres contarnos más."
        ),
        "csat_changed": "Hecho: ahora tu valoración de esta conversación es {score}/5. ¡Gracias!",
        "csat_same": "Ya valoraste esta conversación con {score}/5, ¡gracias!",
        "csat_team_rated": (
            "Alguien de tu equipo ya valoró esta conversación, ¡gracias! No se ha cambiado nada."
        ),
        "csat_score_first": (
            "Elige primero una puntuación del 1 al 5; después podrás añadir un comentario."
        ),
        "csat_not_rater": (
            "Solo la persona que valoró esta conversación puede añadir el comentario. No se ha"
            " guardado nada."
        ),
        "csat_form_title": "Tu opinión",
        "csat_form_send": "Enviar",
        "csat_form_cancel": "Cancelar",
        "csat_form_close": "Cerrar",
        "csat_form_intro": (
            "Has valorado esta conversación con {score}/5. Solo el equipo de soporte lo leerá."
        ),
        "csat_form_label": "¿Qué salió bien o qué podríamos mejorar?",
        "csat_form_placeholder": "Con una o dos frases basta.",
        "csat_comment_empty": "Escribe un comentario o pulsa Cancelar si prefieres no dejarlo.",
        "csat_comment_long": (
            "Usa como máximo {max} caracteres (este tiene {length}); todavía no se ha guardado"
            " nada."
        ),
        "csat_comment_thanks": (
            "¡Gracias! Hemos guardado tu comentario; el equipo de soporte lo leerá."
        ),
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
        "csat_question": "*Como nos saímos?* Avalie esta conversa de 1 (ruim) a 5 (ótima).",
        "csat_recorded": (
            "✅ Obrigado, uma avaliação foi registrada. Quer contar mais? Adicione um comentário."
        ),
        "csat_add_comment": "💬 Adicionar comentário",
        "csat_thanks": (
            "Obrigado! Você avaliou esta conversa com {score}/5. Clique em *Adicionar"
            " comentário* embaixo da pesquisa se quiser contar mais."
        ),
        "csat_changed": "Pronto: sua nota para esta conversa agora é {score}/5. Obrigado!",
        "csat_same": "Você já avaliou esta conversa com {score}/5, obrigado!",
        "csat_team_rated": (
            "Alguém da sua equipe já avaliou esta conversa, obrigado! Nada foi alterado."
        ),
        "csat_score_first": (
            "Escolha primeiro uma nota de 1 a 5; depois você pode adicionar um comentário."
        ),
        "csat_not_rater": (
            "Só quem avaliou esta conversa pode adicionar o comentário. Nada foi registrado."
        ),
        "csat_form_title": "Sua opinião",
        "csat_form_send": "Enviar",
        "csat_form_cancel": "Cancelar",
        "csat_form_close": "Fechar",
        "csat_form_intro": (
            "Você avaliou esta conversa com {score}/5. Só a equipe de suporte vai ler isto."
        ),
        "csat_form_label": "O que foi bom, ou o que podemos melhorar?",
        "csat_form_placeholder": "Uma ou duas frases já bastam.",
        "csat_comment_empty": "Escreva um comentário ou clique em Cancelar para deixar sem.",
        "csat_comment_long": (
            "Use no máximo {max} caracteres (este tem {length}); nada foi registrado ainda."
        ),
        "csat_comment_thanks": (
            "Obrigado! Seu comentário foi registrado; a equipe de suporte vai lê-lo."
        ),
    },
    "ja": {
        "greeting": (
            "こんにちは！:wave: どのようなご用件でしょうか？"
            "このスレッドにご質問を書いていただければ、お答えするかチームにおつなぎします。"
        ),
        "holding": (
            "ご質問ありがとうございます！チームに引き継ぎました。"
            "できるだけ早くこのスレッドで担当者が"
            "お返事します。"
        ),
        "holding_away": (
            "ご質問ありがとうございます！チームに引き継ぎました。ただいま対応時間外です"
            "（サポート時間：{hours}）。{when}以降、このスレッドでお返事します。"
        ),
        "still_on_it": (
            "お待たせして申し訳ありません。チームが引き続きご質問に対応しており、"
            "このスレッドでお返事します。"
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
        "csat_question": (
            "*対応はいかがでしたか？* この会話を 1（不満）から 5（満足）の 5 段階で評価してください"
            "。"
        ),
        "csat_recorded": (
            "✅ ありがとうございます。評価を記録しました。ほかにもご意見があれば、"
            "コメントを追加してください。"
        ),
        "csat_add_comment": "💬 コメントを追加",
        "csat_thanks": (
            "ありがとうございます！この会話を {score}/5 と評価いただきました。"
            "ほかにもご意見があれば、"
            "アンケートの下の *コメントを追加* を押してください。"
        ),
        "csat_changed": (
            "評価を変更しました。この会話の評価は {score}/5 です。ありがとうございます！"
        ),
        "csat_same": "この会話はすでに {score}/5 と評価いただいています。ありがとうございます！",
        "csat_team_rated": (
            "同じチームの方がすでにこの会話を評価されています。ありがとうございます！"
            "変更はしていません。"
        ),
        "csat_score_first": "先に 1〜5 の評価を選んでください。その後、コメントを追加できます。",
        "csat_not_rater": (
            "コメントを追加できるのは、この会話を評価した方のみです。何も記録されていません。"
        ),
        "csat_form_title": "ご意見",
        "csat_form_send": "送信",
        "csat_form_cancel": "キャンセル",
        "csat_form_close": "閉じる",
        "csat_form_intro": (
            "この会話を {score}/5 と評価いただきました。この内容はサポートチームのみが読みます。"
        ),
        "csat_form_label": "よかった点や、改善できる点を教えてください。",
        "csat_form_placeholder": "一言、二言で十分です。",
        "csat_comment_empty": (
            "コメントを入力してください。コメントなしでよければ、キャンセルを押してください。"
        ),
        "csat_comment_long": (
            "{max} 文字以内でお願いします（現在 {length} 文字）。まだ何も記録されていません。"
        ),
        "csat_comment_thanks": (
            "ありがとうございます！コメントを記録しました。サポートチームが確認します。"
        ),
    },
}


def limit_of(key: str) -> int:
    """The most characters Slack takes in the field ``key``'s text goes in."""
    if key in BUTTON_KEYS:
        return BUTTON_TEXT_MAX
    if key in MODAL_KEYS:
        return min(MODAL_TITLE_MAX, MODAL_BUTTON_MAX)
    if key in PLACEHOLDER_KEYS:
        return PLACEHOLDER_MAX
    return SECTION_TEXT_MAX


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
    non-empty string with the English text's placeholders, within Slack's limit for its field."""
    kept: dict[str, str] = {}
    for key in KEYS:
        value = texts.get(key)
        if not isinstance(value, str) or not value.strip():
            return None
        if set(PLACEHOLDER.findall(value)) != set(PLACEHOLDER.findall(STRINGS[ENGLISH][key])):
            return None
        if len(value.strip()) > limit_of(key):
            return None
        kept[key] = value.strip()
    return kept
