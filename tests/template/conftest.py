import pytest

from tests.template_reader import Template, load_template


@pytest.fixture(scope="session")
def template() -> Template:
    return load_template()
