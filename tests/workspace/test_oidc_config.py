"""``dashboards.oidc`` and ``dashboards.trusted_proxies`` of tanjian.yaml: every mistake one line with
file:line:field; the client secret only as a file beside the YAML, never as a value."""

from __future__ import annotations

import pytest

from workspace.config import EXAMPLE, load_config
from workspace.errors import ConfigError

BLOCK = """
dashboards:
  trusted_proxies: [10.0.0.1, 192.168.10.0/24]
  oidc:
    name: Plant SSO
    issuer: https://sso.plant18.example/realms/plant
    client_id: tanjian
    client_secret_file: oidc-client.secret
"""


def write(tmp_path, block: str):
    text = EXAMPLE.read_text("utf-8").replace("\ndashboards:\n", block.rstrip("\n") + "\n", 1)
    p = tmp_path / "tanjian.yaml"
    p.write_text(text, "utf-8")
    line = text.splitlines().index("  oidc:") + 1 if "  oidc:" in text else None
    return p, line


def test_a_good_block(tmp_path):
    p, _ = write(tmp_path, BLOCK)
    cfg = load_config(p)
    o = cfg.dashboards.oidc
    assert (o.name, o.client_id, o.scopes, o.match) == ("Plant SSO", "tanjian", ["openid", "email"], "sub")
    assert o.client_secret_file == tmp_path / "oidc-client.secret"  # beside the YAML, not the working folder
    assert [str(n) for n in cfg.dashboards.trusted_proxies] == ["10.0.0.1/32", "192.168.10.0/24"]


@pytest.mark.parametrize("change,offset,field,msg", [
    (("match: sub", "match: upn"), 5, "dashboards.oidc.match", "Input should be 'sub' or 'email'"),
    (("client_secret_file: oidc-client.secret", "client_secret: hunter2hunter2"), 6,
     "dashboards.oidc.client_secret", "Extra inputs are not permitted"),
    (("scopes: [openid, email]", "scopes: [email]"), 0, "dashboards.oidc", "Value error, scopes must include openid"),
    (("issuer: https://sso.plant18.example/realms/plant", "issuer: http://sso.plant18.example"), 0,
     "dashboards.oidc", "Value error, the issuer must be https://"),
    (("10.0.0.1,", "10.0.0.300,"), -1, "dashboards.trusted_proxies[0]", "value is not a valid IPv4 or IPv6 network"),
])
def test_mistakes_are_one_line_each(tmp_path, change, offset, field, msg):
    block = BLOCK.replace("client_secret_file", "scopes: [openid, email]\n    match: sub\n    client_secret_file")
    old, new = change
    assert old in block
    p, line = write(tmp_path, block.replace(old, new))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    problems = str(e.value).splitlines()[1:]
    # offset: lines below "  oidc:" (0: the block itself, for a rule across fields)
    assert f"{p}:{line + offset}: {field}: {msg}" in [x[:len(f"{p}:{line + offset}: {field}: {msg}")]
                                                       for x in problems], problems
    if field.endswith("client_secret"):  # a secret in the YAML: refused, and the file it should be is asked
        assert len(problems) == 2 and "dashboards.oidc.client_secret_file: Field required" in problems[0] + \
            problems[1]
    else:
        assert len(problems) == 1
