"""Profiles: include chains merged by one pure function; unknown keys fail at load, naming file and key."""

from __future__ import annotations

import pytest

from hwtune import profile
from hwtune.checks.registry import REGISTRY
from hwtune.checks.text import load_text_file, load_texts
from hwtune.errors import ConfigError


def test_merge_later_wins_and_tables_merge():
    base = {"checks": {"kernel.version": {"min": "5.1"}}, "tune": {"sysctl": {"vm.swappiness": 10}}}
    over = {"checks": {"kernel.version": {"min": "5.15"}}, "tune": {"sysctl": {"kernel.numa_balancing": 0}}}
    merged = profile.merge(base, over)
    assert merged["checks"]["kernel.version"] == {"min": "5.15"}
    assert merged["tune"]["sysctl"] == {"vm.swappiness": 10, "kernel.numa_balancing": 0}
    assert base["tune"]["sysctl"] == {"vm.swappiness": 10}  # pure: inputs untouched


def test_shipped_profiles_load_with_their_chain():
    gpu = profile.load("gpu-inference")
    assert gpu.chain == ("base", "cpu-inference", "gpu-inference")
    assert gpu.params("kernel.version")["min"] == "5.1"  # from base
    assert gpu.tune["cpu.governor"] == "performance"  # from cpu-inference
    assert gpu.tune["nvidia.persistenced"] is True
    assert gpu.params("nvidia.driver")["enabled"] is True  # re-enabled over cpu-inference
    assert profile.load("cpu-inference").params("nvidia.driver")["enabled"] is False
    assert {"base", "cpu-inference", "gpu-inference"} <= set(profile.available())


def test_unknown_profile_lists_known():
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'; known profiles: .*gpu-inference"):
        profile.load("nope")


@pytest.mark.parametrize("body,needle", [
    ('descripton = "typo"', "unknown key 'descripton'"),
    ('[checks."kernel.version"]\nminimum = "5.1"', "unknown key 'checks.kernel.version.minimum'"),
    ('[checks."kernel.verison"]\nmin = "5.1"', "unknown check id 'checks.kernel.verison'"),
    ('[checks."kernel.version"]\nmin = 5', "'checks.kernel.version.min' must be a str"),
    ('[checks."cpu.governor"]\nseverity = "loud"', "severity' must be"),
    ('[tune]\n"cpu.governer" = "performance"', "unknown key 'tune.cpu.governer'"),
    ('[tune]\n"cpu.boost" = "yes"', "'tune.cpu.boost' must be a bool"),
    ('[tune.sysctl]\n"fs.file-max" = 1', "'tune.sysctl.fs.file-max' is not an allowed sysctl"),
    ('[tune.sysctl]\n"vm.swappiness" = true', "must be an integer or a string"),
    ('include = ["nope"]', "include 'nope': unknown profile"),
    ("description = ", "not valid TOML"),
])
def test_malformed_profile_names_file_and_key(tmp_path, body, needle):
    path = tmp_path / "mine.toml"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError) as exc:
        profile.load(str(path))
    assert str(path) in exc.value.message
    assert needle in exc.value.message
    assert "\n" not in exc.value.message


def test_include_cycle_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "a.toml").write_text('include = ["b"]\n')
    (tmp_path / "b.toml").write_text('include = ["a"]\n')
    monkeypatch.setenv(profile.PROFILE_PATH_ENV, str(tmp_path))
    with pytest.raises(ConfigError, match="include cycle"):
        profile.load("a")


def test_user_profile_layers_on_a_shipped_one(tmp_path, monkeypatch):
    (tmp_path / "strict.toml").write_text(
        'include = ["gpu-inference"]\n[checks."kernel.version"]\nmin = "6.1"\n[tune.sysctl]\n"vm.swappiness" = 1\n')
    monkeypatch.setenv(profile.PROFILE_PATH_ENV, str(tmp_path))
    strict = profile.load("strict")
    assert strict.chain[-1] == "strict" and strict.params("kernel.version")["min"] == "6.1"
    assert strict.tune["sysctl"]["vm.swappiness"] == 1 and strict.tune["sysctl"]["kernel.numa_balancing"] == 0


def test_every_check_has_text_and_every_text_a_check():
    texts = load_texts()
    assert set(texts) == set(REGISTRY)
    for check_id, text in texts.items():
        assert text.source.startswith("http"), check_id


def test_check_text_unknown_key(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('["cpu.governor"]\ntitle = "t"\nseverity = "fail"\nrationale = "r"\nsource = "s"\n'
                    'remediation = "x"\nremedy = "typo"\n')
    with pytest.raises(ConfigError, match=r"x.toml: unknown key 'cpu.governor.remedy'"):
        load_text_file(path)


def test_check_text_judges_is_optional_and_must_be_text(tmp_path):
    path = tmp_path / "x.toml"
    base = '["cpu.governor"]\ntitle = "t"\nseverity = "fail"\nrationale = "r"\nsource = "s"\nremediation = "x"\n'
    path.write_text(base)
    assert load_text_file(path)["cpu.governor"].judges == ""
    path.write_text(base + 'judges = "every policy performance"\n')
    assert load_text_file(path)["cpu.governor"].judges == "every policy performance"
    path.write_text(base + "judges = 5\n")
    with pytest.raises(ConfigError, match=r"x.toml: 'cpu.governor.judges' is missing or not a string"):
        load_text_file(path)


def test_unreadable_profile_folder_is_a_one_line_error(tmp_path, monkeypatch):
    # As an unprivileged user, Path.is_file() raises PermissionError for a file
    # inside a folder the user may not enter; root can enter any, so simulate it.
    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "is_file", denied)
    with pytest.raises(ConfigError, match=r"p.toml: cannot read: Permission denied"):
        profile.load(str(tmp_path / "p.toml"))
