"""The credit bureau is a setting: the simulated one by default, refused in production unless
allowed, any other adapter by its import path; each answer names the bureau that gave it."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from tests.fakes import bureau as fake
from xinbao.bootstrap import load_bureau, risk_engine
from xinbao.catalogue.model.parties import PartyKind
from xinbao.config import ConfigError, Settings
from xinbao.parameters import load_parameters
from xinbao.risk.bureau import BureauClient
from xinbao.risk.model.bureau import Status
from xinbao.risk.services import BureauQuery
from xinbao.simulation.bureau import SimulatedBureau

ID = "110105198001011238"
PRODUCTION = {"XINBAO_ENV": "production"}


def ask(client: object) -> str:
    assert isinstance(client, BureauClient)
    (result,) = client.fetch_many([BureauQuery(ID, "张三", PartyKind.INDIVIDUAL,
                                               date(2025, 3, 1))])
    assert result.status is Status.OK
    return result.source


def test_the_simulated_bureau_is_the_development_default_and_names_itself():
    settings = Settings.from_env({})
    assert settings.bureau == "simulated" and settings.simulated_bureau
    assert isinstance(load_bureau(settings), SimulatedBureau)
    assert ask(risk_engine(settings, load_parameters()).bureau) == "simulated/1"


@pytest.mark.parametrize("env", [
    {},
    {"XINBAO_BUREAU": "simulated"},
    {"XINBAO_BUREAU": "xinbao.simulation.bureau:from_settings"},
    {"XINBAO_ALLOW_SIMULATED_BUREAU": "0"},
])
def test_production_refuses_the_simulated_bureau_naming_both_settings(env):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**PRODUCTION, **env})
    message = str(refused.value)
    assert "XINBAO_BUREAU" in message and "XINBAO_ALLOW_SIMULATED_BUREAU=1" in message


@pytest.mark.parametrize("allow", ["1", "true", "YES"])
def test_production_decides_on_the_simulated_bureau_when_allowed_in_so_many_words(allow):
    settings = Settings.from_env({**PRODUCTION, "XINBAO_ALLOW_SIMULATED_BUREAU": allow})
    assert settings.production and settings.allow_simulated_bureau
    assert ask(risk_engine(settings, load_parameters()).bureau) == "simulated/1"


def test_production_takes_a_real_adapter_by_import_path_without_any_allowance():
    settings = Settings.from_env({**PRODUCTION, "XINBAO_BUREAU": fake.CONNECT})
    engine = risk_engine(settings, load_parameters())
    assert ask(engine.bureau) == "test-bureau/2.1"
    assert isinstance(engine.bureau, BureauClient)
    service = engine.bureau._service
    assert isinstance(service, fake.FixedBureau) and service.asked == [ID]
    assert service.environment == "production"  # the factory was given the settings
    engine.bureau.close()
    assert service.closed


def test_the_simulated_bureau_under_another_path_is_still_refused_in_production():
    settings = Settings.from_env({**PRODUCTION, "XINBAO_BUREAU": "tests.fakes.bureau:simulated"})
    with pytest.raises(ConfigError, match="XINBAO_ALLOW_SIMULATED_BUREAU"):
        risk_engine(settings, load_parameters())
    with pytest.raises(ConfigError, match="XINBAO_ALLOW_SIMULATED_BUREAU"):
        risk_engine(Settings(environment="production", bureau=fake.CONNECT), load_parameters(),
                    bureau_service=SimulatedBureau())


@pytest.mark.parametrize(("value", "why"), [
    ("pbccrc", "'simulated', or the 'package.module:factory'"),
    ("tests.fakes.bureau", "'simulated', or the 'package.module:factory'"),
])
def test_a_bureau_setting_that_names_nothing_is_refused(value, why):
    with pytest.raises(ConfigError, match="XINBAO_BUREAU") as refused:
        Settings.from_env({"XINBAO_BUREAU": value})
    assert why in str(refused.value)


@pytest.mark.parametrize(("path", "why"), [
    ("tests.fakes.no_such_module:connect", "cannot load"),
    ("tests.fakes.bureau:no_such_factory", "cannot load"),
    ("tests.fakes.bureau:NOT_A_FACTORY", "is not a factory"),
    ("tests.fakes.bureau:nameless", "declares no name and version"),
])
def test_an_adapter_that_cannot_be_loaded_or_does_not_say_who_it_is_is_refused(path, why):
    with pytest.raises(ConfigError, match="XINBAO_BUREAU") as refused:
        load_bureau(Settings.from_env({"XINBAO_BUREAU": path}))
    assert why in str(refused.value)


def test_the_allowance_flag_is_a_yes_or_a_no():
    with pytest.raises(ConfigError, match="XINBAO_ALLOW_SIMULATED_BUREAU"):
        Settings.from_env({"XINBAO_ALLOW_SIMULATED_BUREAU": "perhaps"})


def test_deciding_on_the_simulated_bureau_is_a_warning_in_the_log(caplog):
    with caplog.at_level(logging.WARNING, logger="xinbao.bureau"):
        risk_engine(Settings(), load_parameters())
    (warning,) = [r for r in caplog.records if r.name == "xinbao.bureau"]
    assert warning.levelno == logging.WARNING
    assert "simulated credit bureau" in warning.getMessage()
    assert "\n" not in warning.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xinbao.bureau"):
        risk_engine(Settings(bureau=fake.CONNECT), load_parameters())
    assert not [r for r in caplog.records if r.name == "xinbao.bureau"]
