"""Build tiny PMML documents in tests: one DataDictionary + one model element."""

from __future__ import annotations

import pytest

import quickscore

TEMPLATE = """<?xml version="1.0"?>
<PMML version="{version}" xmlns="http://www.dmg.org/PMML-{ns}">
  <Header><Application name="quickscore-tests" version="1"/></Header>
  <DataDictionary>{fields}</DataDictionary>
  {transformations}
  {model}
</PMML>"""


def pmml_text(fields: str, model: str, version: str = "4.4", transformations: str = "") -> bytes:
    return TEMPLATE.format(version=version, ns=version.replace(".", "_"), fields=fields, model=model, transformations=transformations).encode()


@pytest.fixture
def pmml():
    """``pmml(fields_xml, model_xml, ...)`` -> a loaded quickscore.Model."""

    def build(fields: str, model: str, **kw) -> quickscore.Model:
        return quickscore.load(pmml_text(fields, model, **kw))

    return build
