"""mkdocs hooks (mkdocs.yml ``hooks:``).

The docstrings are written for Python's help() and Sphinx: they name other objects with roles
(``:class:`Panel```, ``:func:`panel_from_events```, ``:meth:`SCResult.bootstrap```).  mkdocstrings
renders the backquoted part as code and leaves the role's name in front of it as text
(":class:Panel"); this hook drops the role name so the API page reads "Panel" in code type.
"""
import re

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):(<code>)~?")


def on_page_content(html, page, config, files):
    return _ROLE.sub(r"\1", html)
