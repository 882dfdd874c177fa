"""The typed keys under which the composition root (``hotline.app``) keeps the settings, the menu
and every service it builds once; handlers read their services from here and never see the
database pool. This module imports nothing of the web layer, so any handler may import it."""

from __future__ import annotations

from aiohttp import web

from agents.applier import QueueLogApplier
from agents.service import AgentsService
from db.admin import PostgresPromptTexts
from db.agency import PostgresAgencyRepository
from db.agents import PostgresAgentsRepository
from db.apikeys import PostgresApiKeyRepository
from db.backoffice import PostgresBackofficeStore
from db.health import PostgresHealthRepository
from db.open311 import PostgresOpen311Repository
from db.pool import DatabaseProbe
from db.province import PostgresProvinceRepository
from db.reports import PostgresReportRepository
from db.reviews import PostgresReviewRepository
from db.stats import PostgresStatsRepository
from db.tickets import PostgresTicketRepository
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from hotline.events import EventBus
from hotline.settings import Settings
from ivr.menu import MenuFile
from ivr.server import FastAgiServer
from notify.service import NotifyService
from runtime.metrics import Metrics
from tickets.attachments import AttachmentService
from tickets.service import BackofficeService, Clock
from tickets.staffing import StaffingPolicy

# what the service was started with
SETTINGS = web.AppKey("settings", Settings)
# the time services stamp records with: the wall clock, or ``hotline replay``'s simulated one
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
# set by ``hotline simulate``: the calls this instance takes are simulated; their tickets are
# marked so (``tickets.simulated``) and left out of reports
SIMULATED = web.AppKey("simulated", bool)
MENU = web.AppKey("menu", MenuFile)
METRICS = web.AppKey("metrics", Metrics)  # this app's own registry (``GET /metrics``)
STAFFING = web.AppKey("staffing", StaffingPolicy)  # queue → line, Erlang C targets

# built when the database is open (``database_ctx``)
DATABASE = web.AppKey("database", DatabaseProbe)
AUTH = web.AppKey("auth", AuthService)
USERS = web.AppKey("users", PostgresUserRepository)
TICKETS = web.AppKey("tickets", PostgresTicketRepository)
BACKOFFICE = web.AppKey("backoffice", BackofficeService)
BACKOFFICE_STORE = web.AppKey("backoffice_store", PostgresBackofficeStore)
ATTACHMENTS = web.AppKey("attachments", AttachmentService)
AGENCY = web.AppKey("agency", PostgresAgencyRepository)
PROVINCE = web.AppKey("province", PostgresProvinceRepository)
REPORTS = web.AppKey("reports", PostgresReportRepository)
REVIEWS = web.AppKey("reviews", PostgresReviewRepository)
STATS = web.AppKey("stats", PostgresStatsRepository)
PROMPTS = web.AppKey("prompts", PostgresPromptTexts)
OPEN311 = web.AppKey("open311", PostgresOpen311Repository)
API_KEYS = web.AppKey("api_keys", PostgresApiKeyRepository)
AGENTS_REPO = web.AppKey("agents_repository", PostgresAgentsRepository)
HEALTH = web.AppKey("health", PostgresHealthRepository)

# live parts, each started by its own cleanup context (absent when not configured)
BUS = web.AppKey("bus", EventBus)
AGI = web.AppKey("agi", FastAgiServer)
AGENTS = web.AppKey("agents", AgentsService)
QUEUE_LOG = web.AppKey("queue_log", QueueLogApplier)  # rows_behind() for /metrics
NOTIFY = web.AppKey("notify", NotifyService)
