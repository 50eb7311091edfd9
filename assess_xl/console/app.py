"""The console's application: the route table behind the guard."""
from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from assess_xl import yearwork
from assess_xl.year import Year
from . import actions, views
from .guard import Guard, Secrets
from .state import Console

BODY_LIMIT = yearwork.UPLOAD_TOTAL_LIMIT_MB * 1024 * 1024


def static_folder() -> str:
    return str(resources.files("assess_xl.console").joinpath("static"))


def create_app(folder: Year | None, port: int, keys: Secrets | None = None) -> Starlette:
    """The console for a year (or the start page when none is open), behind the guard."""
    keys = keys or Secrets.new()
    routes = [
        Route("/", views.home), Route("/start", views.start), Route("/start/create", actions.create_year,
                                                                       methods=["POST"]),
        Route("/start/open", actions.open_year, methods=["POST"]),
        Route("/settings", views.settings), Route("/settings/general", actions.save_general, methods=["POST"]),
        Route("/settings/districts", actions.save_districts, methods=["POST"]),
        Route("/settings/rulebook", actions.upload_rulebook, methods=["POST"]),
        Route("/settings/rulebook/embedded", actions.embedded_rulebook, methods=["POST"]),
        Route("/settings/contacts", actions.save_contacts, methods=["POST"]),
        Route("/settings/contacts/upload", actions.upload_contacts, methods=["POST"]),
        Route("/forms", views.forms), Route("/forms/generate", actions.generate_forms, methods=["POST"]),
        Route("/forms/all.zip", actions.forms_zip),
        Route("/inbox", views.inbox), Route("/inbox/upload", actions.upload_returns, methods=["POST"]),
        Route("/inbox/read", actions.read_inbox, methods=["POST"]),
        Route("/inbox/fetch", actions.fetch_mail, methods=["POST"]),
        Route("/status", views.status), Route("/status/remind", actions.remind),
        Route("/status/returns", actions.return_copies),
        Route("/mail/{kind}", views.mail), Route("/mail/{kind}/send", actions.send_mail, methods=["POST"]),
        Route("/problems", views.problems),
        Route("/adjust", views.adjust), Route("/adjust/change", actions.add_adjustment, methods=["POST"]),
        Route("/adjust/exclude", actions.exclude_file, methods=["POST"]),
        Route("/results", views.results), Route("/results/district/{name}", views.district),
        Route("/results/robustness", views.robustness),
        Route("/publish", views.publish), Route("/publish/run", actions.publish, methods=["POST"]),
        Route("/rules", views.rules), Route("/rules/diff", actions.rules_diff, methods=["POST"]),
        Route("/rules/replay", actions.rules_replay, methods=["POST"]),
        Route("/files/{area}/{name}", actions.file_download),
        Route("/favicon.ico", views.no_icon), Route("/jobs/{id}", views.job), Route("/jobs/{id}/events", actions.job_events),
        Mount("/static", StaticFiles(directory=static_folder()), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, keys=keys, port=port, body_limit=BODY_LIMIT)])
    app.state.console = Console(folder, keys)
    return app
