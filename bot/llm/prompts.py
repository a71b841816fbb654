"""Loads prompt templates from the ``prompts`` package and renders them with named variables.

A template names its variables in its front matter; a placeholder that is not declared, a
declared variable that is not used, or a missing value is an error, never a silent blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import yaml

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"<(system|user)>\n(.*?)\n</\1>", re.DOTALL)


class PromptError(ValueError):
    """A prompt file is malformed or was rendered with the wrong variables."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    variables: frozenset[str]
    system: str
    user: str

    def render(self, **values: str) -> list[dict[str, str]]:
        given = set(values)
        if given != self.variables:
            missing = sorted(self.variables - given)
            extra = sorted(given - self.variables)
            raise PromptError(f"prompt {self.name}: missing {missing}, unexpected {extra}")

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        return [
            {"role": "system", "content": fill(self.system)},
            {"role": "user", "content": fill(self.user)},
        ]


def parse_prompt(text: str, *, origin: str) -> Prompt:
    if not text.startswith("---\n"):
        raise PromptError(f"{origin}: missing front matter")
    try:
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise PromptError(f"{origin}: bad front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise PromptError(f"{origin}: front matter must be key: value lines")
    for key in ("name", "version", "variables"):
        if key not in meta:
            raise PromptError(f"{origin}: front matter lacks {key!r}")
    found = [m.group(1) for m in _SECTION.finditer(body)]
    sections = {m.group(1): m.group(2) for m in _SECTION.finditer(body)}
    if sorted(found) != ["system", "user"]:
        raise PromptError(f"{origin}: needs exactly one <system> and one <user> section")
    declared = frozenset(str(v) for v in meta["variables"])
    used = set(_PLACEHOLDER.findall(sections["system"] + sections["user"]))
    if used != declared:
        raise PromptError(
            f"{origin}: placeholders {sorted(used)} do not match variables {sorted(declared)}"
        )
    return Prompt(
        name=str(meta["name"]),
        version=str(meta["version"]),
        variables=declared,
        system=sections["system"],
        user=sections["user"],
    )


def load_prompt(name: str) -> Prompt:
    resource = resources.files("prompts").joinpath(f"{name}.md")
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"no prompt named {name!r} in the prompts package") from exc
    prompt = parse_prompt(text, origin=f"prompts/{name}.md")
    if prompt.name != name:
        raise PromptError(f"prompts/{name}.md declares name {prompt.name!r}")
    return prompt
