"""The app as `damamaya run` starts it: first start, the request size limit under gunicorn,
the embedded Redis's password kept out of the output."""
from __future__ import annotations

import re
import socket
import urllib.request
from urllib.parse import urlsplit

import requests


def test_first_start_prints_an_admin_password_and_a_wall_screen_link(running_app):
    text = running_app["log"].read_text()
    assert text.count("as admin with the password") == 1
    session = requests.Session()
    page = session.get(f"{running_app['base']}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    signed = session.post(f"{running_app['base']}/login", timeout=10, allow_redirects=False,
                          data={"username": "admin", "password": running_app["password"], "csrf_token": token})
    assert signed.status_code == 303
    assert session.get(f"{running_app['base']}/sources", timeout=10).status_code == 200
    wall = requests.Session()
    opened = wall.get(running_app["screen_url"], timeout=10, allow_redirects=False)
    assert opened.status_code == 303 and opened.headers["Location"] == "/wall"
    assert wall.get(f"{running_app['base']}/wall", timeout=10).status_code == 200


def test_the_redis_password_never_reaches_the_output(running_app):
    text = running_app["log"].read_text()
    assert "redis://" not in text or re.search(r"redis://:\*\*\*@", text)
    assert not re.search(r"redis://:[^*@\s]+@", text)


def test_a_52_mb_post_gets_413_before_its_body_is_sent(running_app):
    """Only the headers and 1 KB go out: the answer comes without the server waiting for the rest."""
    parts = urlsplit(running_app["base"])
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (f"POST /_dash-update-component HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {52 * 1024 * 1024}\r\n\r\n").encode()
        sock.sendall(head + b"{" + b" " * 1023)
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_pages_answer_the_public_with_a_redirect_to_sign_in(running_app):
    request = urllib.request.Request(f"{running_app['base']}/history")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request, timeout=10)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302 and exc.headers["Location"].startswith("/login?next=/history")
