"""Prompt templates: shipped as package data, parsed strictly, rendered with exact variables."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from bot.llm.prompts import Prompt, PromptError, load_prompt, parse_prompt

SHIPPED = sorted(
    p.name.removesuffix(".md")
    for p in resources.files("prompts").iterdir()
    if p.name.endswith(".md")
)


def _template(
    *,
    front: str = 'name: demo\nversion: "3"\nvariables: [question, history]\n',
    system: str = "<system>\nYou help. History: {{history}}\n</system>\n",
    user: str = "<user>\nQ: {{ question }}\n</user>\n",
) -> str:
    return f"---\n{front}---\n{system}{user}"


def test_the_package_ships_classify_and_draft() -> None:
    assert {"classify", "draft"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_prompt_loads_with_name_version_and_variables(name: str) -> None:
    prompt = load_prompt(name)
    assert prompt.name == name
    assert prompt.version
    assert prompt.variables
    messages = prompt.render(**{v: f"<<{v}>>" for v in prompt.variables})
    assert [m["role"] for m in messages] == ["system", "user"]
    joined = messages[0]["content"] + messages[1]["content"]
    assert "{{" not in joined
    for variable in prompt.variables:
        assert f"<<{variable}>>" in joined


def test_classify_and_draft_declare_the_variables_the_workflow_passes() -> None:
    assert load_prompt("classify").variables == {"question", "history", "attachments"}
    assert load_prompt("draft").variables == {
        "language",
        "question",
        "history",
        "articles",
        "team_notes",
        "attachments",
    }
    assert load_prompt("redraft").variables == {
        "language",
        "question",
        "history",
        "articles",
        "team_notes",
        "previous_draft",
        "feedback",
        "attachments",
    }
    assert load_prompt("classify").version == "4"


def test_prompts_are_read_as_package_data_not_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "classify.md").write_text("not a prompt", encoding="utf-8")
    prompt = load_prompt("classify")
    shipped = resources.files("prompts").joinpath("classify.md").read_text(encoding="utf-8")
    assert prompt == parse_prompt(shipped, origin="x")
    assert prompt.system in shipped


def test_unknown_prompt_name_is_a_prompt_error() -> None:
    with pytest.raises(PromptError, match="no prompt named 'nope'"):
        load_prompt("nope")


def test_render_fills_every_placeholder_with_spaces_or_not() -> None:
    prompt = parse_prompt(_template(), origin="t")
    assert prompt == Prompt(
        name="demo",
        version="3",
        variables=frozenset({"question", "history"}),
        system="You help. History: {{history}}",
        user="Q: {{ question }}",
    )
    messages = prompt.render(question="Why?", history="(none)")
    assert messages == [
        {"role": "system", "content": "You help. History: (none)"},
        {"role": "user", "content": "Q: Why?"},
    ]


def test_values_are_inserted_literally_never_re_expanded() -> None:
    prompt = parse_prompt(_template(), origin="t")
    messages = prompt.render(question=r"{{history}} \1 \g<0>", history="secret")
    assert messages[1]["content"] == r"Q: {{history}} \1 \g<0>"


def test_render_with_a_missing_variable_raises() -> None:
    prompt = load_prompt("draft")
    with pytest.raises(
        PromptError, match=r"missing \['articles', 'attachments', 'language', 'team_notes'\]"
    ):
        prompt.render(question="q", history="h")


def test_render_with_an_extra_variable_raises() -> None:
    prompt = load_prompt("classify")
    with pytest.raises(PromptError, match=r"unexpected \['articles'\]"):
        prompt.render(question="q", history="h", articles="a")


def test_render_with_nothing_raises() -> None:
    with pytest.raises(PromptError):
        load_prompt("classify").render()


def test_undeclared_placeholder_is_rejected() -> None:
    text = _template(user="<user>\nQ: {{question}} {{secret}}\n</user>\n")
    with pytest.raises(PromptError, match="secret"):
        parse_prompt(text, origin="t")


def test_declared_but_unused_variable_is_rejected() -> None:
    text = _template(front="name: demo\nversion: 1\nvariables: [question, history, articles]\n")
    with pytest.raises(PromptError, match="articles"):
        parse_prompt(text, origin="t")


@pytest.mark.parametrize(
    "text",
    [
        "<system>\nx\n</system>\n<user>\ny\n</user>\n",
        "\n" + _template(),
        "",
    ],
)
def test_missing_front_matter_is_rejected(text: str) -> None:
    with pytest.raises(PromptError, match="missing front matter"):
        parse_prompt(text, origin="prompts/x.md")


def test_unterminated_or_invalid_front_matter_is_rejected() -> None:
    with pytest.raises(PromptError, match="front matter"):
        parse_prompt("---\nname: a\n", origin="t")
    with pytest.raises(PromptError, match="bad front matter"):
        parse_prompt(_template(front="name: [unclosed\n"), origin="t")


@pytest.mark.parametrize("key", ["name", "version", "variables"])
def test_front_matter_must_have_name_version_and_variables(key: str) -> None:
    lines = {"name": "name: demo\n", "version": "version: 1\n", "variables": "variables: []\n"}
    del lines[key]
    text = _template(
        front="".join(lines.values()),
        system="<system>\nx\n</system>\n",
        user="<user>\ny\n</user>\n",
    )
    with pytest.raises(PromptError, match=repr(key)):
        parse_prompt(text, origin="t")


@pytest.mark.parametrize(
    ("system", "user"),
    [
        ("", "<user>\nQ {{question}} {{history}}\n</user>\n"),
        ("<system>\nQ {{question}} {{history}}\n</system>\n", ""),
        ("", ""),
        ("<system>\nQ {{question}}</system>\n", "<user>\n{{history}}\n</user>\n"),
    ],
)
def test_missing_system_or_user_section_is_rejected(system: str, user: str) -> None:
    with pytest.raises(PromptError, match="<system>"):
        parse_prompt(_template(system=system, user=user), origin="t")


def test_origin_is_named_in_parse_errors() -> None:
    with pytest.raises(PromptError, match=r"^prompts/broken\.md: "):
        parse_prompt("no front matter", origin="prompts/broken.md")


def test_a_second_system_section_is_rejected() -> None:
    text = _template(
        system="<system>\nFirst rules.\n</system>\n<system>\nSecond {{history}}\n</system>\n"
    )
    with pytest.raises(PromptError):
        parse_prompt(text, origin="t")
