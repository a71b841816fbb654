"""How well the customer's language is detected from Slack messages (``bot/llm/language.py``).

A corpus written the way people write in Slack support channels: full questions, short and
lower-case ones, typos, emoji, mentions, links and code around the words, in the six languages
the bot's own texts are translated into; and messages that say too little to tell ("ok thx",
"CSV export??", a link, an emoji), for which the right result is "unclear" (the ticket keeps its
language, or English). Run: ``.venv/bin/python -m bench.languages
[--english-datasets ../shared/eval-data]``.

Reported: for the clear messages, how many were recognised, how many were unclear (kept the
ticket's language) and how many were WRONG (another language: the customer would be answered in
it); for the unclear ones, how many were (wrongly) given a language. Wrong is what must stay
near zero; unclear costs little (the ticket's language, or English, is kept).

The corpus above is what the detector was chosen on. ``--english-datasets`` checks it on
messages it never saw: the test splits of the public English customer-support datasets in
``shared/eval-data`` (BANKING77, CLINC150 with its out-of-scope queries, HINT3's three live
bots, Bitext), real users' short and misspelt questions. For each: how many were read as
English, unclear, or another language (a customer answered in a language they did not write).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from collections import Counter
from pathlib import Path

from bot.llm.language import Detector

CLEAR: dict[str, list[str]] = {
    "en": [
        "Hi team! How do I export a report as CSV?",
        "hey, where can i download my invoices from last month?",
        "I can't log in since this morning, it says my password is wrong",
        "can I still get a refund two weeks after buying Pro?",
        "how do i add a teammate to our workspace",
        "The export button is greyed out for me, any idea why?",
        "we were charged twice this month, can someone look into it pls",
        "Is there a way to change the billing email on our account?",
        "<@U0BOT> how long does a refund take to arrive?",
        "does the API support pagination for the reports endpoint?",
        "my csv export only has 100 rows, is that a limit?",
        "Where do I find the setting for two-factor authentication?",
        "how do I reset my password?",
        "why is my invoice higher than last month?",
        "please cancel my subscription at the end of the month",
    ],
    "de": [
        "Hallo zusammen! Wie kann ich einen Bericht als CSV exportieren?",
        "hey, wo finde ich meine rechnungen vom letzten monat?",
        "Ich kann mich seit heute morgen nicht mehr einloggen, Passwort ist angeblich falsch",
        "kann ich zwei wochen nach dem kauf von pro noch eine rückerstattung bekommen?",
        "wie füge ich eine kollegin zu unserem workspace hinzu",
        "Der Export-Button ist bei mir ausgegraut, weiß jemand warum?",
        "uns wurde diesen monat doppelt abgebucht, kann sich das bitte jemand anschauen",
        "Kann man die Rechnungsadresse im Konto ändern?",
        "<@U0BOT> wie lange dauert eine Rückerstattung?",
        "unterstützt die API paginierung beim reports endpoint?",
        "mein csv export hat nur 100 zeilen, ist das ein limit?",
        "Wo ist die Einstellung für die Zwei-Faktor-Authentifizierung?",
        "wie setze ich mein passwort zurück?",
        "warum ist meine rechnung höher als letzten monat? 🤔",
        "bitte kündigt mein abo zum monatsende",
    ],
    "fr": [
        "Bonjour ! Comment exporter un rapport en CSV ?",
        "salut, où je peux télécharger mes factures du mois dernier ?",
        "Je n'arrive plus à me connecter depuis ce matin, il dit que le mot de passe est faux",
        "est-ce que je peux encore être remboursé deux semaines après l'achat de Pro ?",
        "comment ajouter un collègue à notre espace de travail",
        "Le bouton d'export est grisé chez moi, une idée ?",
        "on a été débités deux fois ce mois-ci, quelqu'un peut regarder svp",
        "Est-il possible de changer l'adresse e-mail de facturation ?",
        "<@U0BOT> combien de temps prend un remboursement ?",
        "est-ce que l'API gère la pagination pour les rapports ?",
        "mon export csv n'a que 100 lignes, c'est une limite ?",
        "Où se trouve le réglage pour la double authentification ?",
        "comment je réinitialise mon mot de passe ?",
        "pourquoi ma facture est plus élevée que le mois dernier ?",
        "merci d'annuler mon abonnement à la fin du mois",
    ],
    "es": [
        "¡Hola equipo! ¿Cómo exporto un informe en CSV?",
        "hola, donde puedo descargar mis facturas del mes pasado?",
        "No puedo iniciar sesión desde esta mañana, dice que la contraseña es incorrecta",
        "¿puedo pedir un reembolso dos semanas después de comprar Pro?",
        "como agrego a un compañero a nuestro espacio de trabajo",
        "El botón de exportar me sale en gris, ¿alguien sabe por qué?",
        "nos cobraron dos veces este mes, alguien lo puede revisar porfa",
        "¿Se puede cambiar el correo de facturación de la cuenta?",
        "<@U0BOT> cuánto tarda en llegar un reembolso?",
        "¿la API permite paginación en el endpoint de informes?",
        "mi exportación csv solo tiene 100 filas, es un límite?",
        "¿Dónde está la opción de autenticación en dos pasos?",
        "como restablezco mi contraseña?",
        "por qué mi factura es más alta que el mes pasado?",
        "por favor cancelen mi suscripción a fin de mes",
    ],
    "pt": [
        "Olá pessoal! Como exporto um relatório em CSV?",
        "oi, onde consigo baixar minhas faturas do mês passado?",
        "Não consigo entrar desde hoje de manhã, diz que a senha está errada",
        "ainda consigo reembolso duas semanas depois de comprar o Pro?",
        "como adiciono um colega ao nosso espaço de trabalho",
        "O botão de exportar está cinza pra mim, alguém sabe por quê?",
        "fomos cobrados duas vezes este mês, alguém pode verificar por favor",
        "Dá pra mudar o e-mail de cobrança da conta?",
        "<@U0BOT> quanto tempo leva para o reembolso cair?",
        "a API tem paginação no endpoint de relatórios?",
        "minha exportação csv só tem 100 linhas, isso é um limite?",
        "Onde fica a configuração de autenticação em dois fatores?",
        "como faço pra redefinir minha senha?",
        "por que minha fatura veio mais alta que no mês passado?",
        "por favor cancelem minha assinatura no fim do mês",
    ],
    "ja": [
        "こんにちは！レポートをCSVでエクスポートするにはどうすればいいですか？",
        "先月の請求書はどこからダウンロードできますか",
        "今朝からログインできません。パスワードが違うと表示されます",
        "Proを購入して2週間たっても返金してもらえますか？",
        "ワークスペースにメンバーを追加する方法を教えてください",
        "エクスポートボタンがグレーになっています。なぜでしょう？",
        "今月二重に請求されました。確認してもらえますか",
        "請求先のメールアドレスは変更できますか？",
        "<@U0BOT> 返金にはどのくらいかかりますか？",
        "APIはレポートのページネーションに対応していますか？",
        "CSVエクスポートが100行しかありません。制限ですか？",
        "二要素認証の設定はどこにありますか？",
        "パスワードのリセット方法は？",
        "請求額が先月より高いのはなぜですか",
        "月末で解約をお願いします",
    ],
}
# Too little to tell: the right result is None (the ticket's language, or English, is kept).
UNCLEAR = [
    "hi",
    "ok thx",
    "CSV export??",
    "👍",
    "thanks!!",
    "merci",
    "danke",
    "ok",
    "+1",
    ":tada: :tada:",
    "<https://example.com/invoice/4411>",
    "`export --format csv`",
    "<@U0BOT> ?",
    "INV-4411",
    "lol",
    "pls",
    "404",
    "ty :pray:",
    "login broken",
    "export csv pls",
    "still broken",
    "same here",
    "refund?",
    "ok danke",
    "perfect, merci",
    "super danke!",
    "cancel pls",
    "any update?",
    "sso broken again",
    "pdf export fails",
    "api down?",
]


def run() -> dict[str, object]:
    detector = Detector()
    started = time.monotonic()
    detector.detect("warm up: build the detector and load its first models")
    warm = time.monotonic() - started
    per_language: dict[str, Counter[str]] = {}
    wrong: list[tuple[str, str, str | None]] = []
    started = time.monotonic()
    for code, messages in CLEAR.items():
        tally: Counter[str] = Counter()
        for text in messages:
            found = detector.detect(text)
            outcome = "right" if found == code else "unclear" if found is None else "wrong"
            tally[outcome] += 1
            if outcome != "right":
                wrong.append((code, text, found))
        per_language[code] = tally
    guessed = [(t, f) for t in UNCLEAR if (f := detector.detect(t)) is not None]
    elapsed = time.monotonic() - started
    return {
        "per_language": per_language,
        "misses": wrong,
        "guessed": guessed,
        "warm_s": warm,
        "ms_per_message": 1000 * elapsed / (sum(map(len, CLEAR.values())) + len(UNCLEAR)),
    }


def english_test_splits(root: Path) -> dict[str, list[str]]:
    """The test questions of each public English dataset (the sentence only)."""

    def column(path: Path, name: str) -> list[str]:
        with path.open(newline="", encoding="utf-8") as handle:
            return [row[name] for row in csv.DictReader(handle) if row.get(name)]

    clinc = json.loads((root / "clinc150" / "data_full.json").read_text())
    sets = {
        "banking77": column(root / "banking77" / "test.csv", "text"),
        "clinc150": [text for text, _ in clinc["test"] + clinc["oos_test"]],
        "bitext": column(root / "bitext-customer-service-intent" / "test.csv", "utterance"),
    }
    for path in sorted((root / "hint3" / "v2" / "test").glob("*_test.csv")):
        sets[f"hint3-{path.stem.removesuffix('_test')}"] = column(path, "sentence")
    return sets


def run_english(detector: Detector, root: Path) -> dict[str, Counter[str]]:
    tallies: dict[str, Counter[str]] = {}
    for name, questions in english_test_splits(root).items():
        tally: Counter[str] = Counter()
        for text in questions:
            found = detector.detect(text)
            outcome = "english" if found == "en" else "unclear" if found is None else str(found)
            tally[outcome] += 1
        tallies[name] = tally
    return tallies


def print_english(tallies: dict[str, Counter[str]]) -> None:
    print("\nEnglish test splits never seen (eval-data): read as English, unclear, another")
    print("dataset              messages  english  unclear  another  (which)")
    total: Counter[str] = Counter()
    for name, tally in tallies.items():
        total += tally
        n = sum(tally.values())
        other = {k: v for k, v in tally.items() if k not in ("english", "unclear")}
        print(
            f"{name:20} {n:8}  {tally['english']:7}  {tally['unclear']:7}"
            f"  {sum(other.values()):7}  {dict(sorted(other.items(), key=lambda kv: -kv[1]))}"
        )
    n = sum(total.values())
    others = sum(v for k, v in total.items() if k not in ("english", "unclear"))
    print(
        f"all                  {n:8}  {total['english']:7}  {total['unclear']:7}  {others:7}"
        f"  ({100 * total['english'] / n:.1f}% English, {100 * total['unclear'] / n:.1f}%"
        f" unclear, {100 * others / n:.2f}% another language)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--english-datasets", type=Path, help="the eval-data folder: check on its English tests"
    )
    args = parser.parse_args()
    result = run()
    per_language: dict[str, Counter[str]] = result["per_language"]  # type: ignore[assignment]
    total: Counter[str] = Counter()
    print("language  messages  right  unclear  wrong")
    for code, tally in per_language.items():
        total += tally
        n = sum(tally.values())
        print(f"{code:8}  {n:8}  {tally['right']:5}  {tally['unclear']:7}  {tally['wrong']:5}")
    n = sum(total.values())
    print(
        f"all       {n:8}  {total['right']:5}  {total['unclear']:7}  {total['wrong']:5}"
        f"   ({100 * total['right'] / n:.1f}% right, {100 * total['wrong'] / n:.1f}% wrong)"
    )
    guessed: list[tuple[str, str]] = result["guessed"]  # type: ignore[assignment]
    print(f"too short to tell: {len(UNCLEAR)}, given a language anyway: {len(guessed)}")
    for code, text, found in result["misses"]:  # type: ignore[attr-defined]
        print(f"  {code} -> {found or 'unclear'}: {text}")
    for text, found in guessed:
        print(f"  unclear -> {found}: {text}")
    print(f"first detection {result['warm_s']:.2f} s, then {result['ms_per_message']:.2f} ms each")
    if args.english_datasets is not None:
        print_english(run_english(Detector(), args.english_datasets))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
