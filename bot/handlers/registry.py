"""The one table of commands and buttons. The core's dispatch, the role gate, typed words, the command menus
(Telegram's setMyCommands), the main menu and /trogiup are all derived from it: a new command is one entry
here plus its handler.

Menu descriptions are `command.<name>` in the catalogue, help lines `help.line.<name>`, main-menu buttons
`menu.<key>`; the order of `COMMANDS` is the order of every menu.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.handlers import cases, deadlines, drafts, exports, linking, listing, onboarding, people, review
from bot.request import Request
from common.events import Reply
from common.messages import t
from common.text import fold
from storage.models import Membership, Role

Handler = Callable[[Request], Awaitable[list[Reply]]]
ButtonHandler = Callable[[Request, str], Awaitable[list[Reply]]]

CADRE, SECRETARY, OFFICIAL, ADMIN = Role.CADRE, Role.SECRETARY, Role.OFFICIAL, Role.ADMIN
EVERYONE = (CADRE, SECRETARY, OFFICIAL, ADMIN)


@dataclass(frozen=True)
class Command:
    name: str  # typed as /name
    handler: Handler | None  # None: a control of the open conversation (huy, quaylai, trogiup)
    roles: tuple[Role, ...]  # who may use it, and in whose menu it appears
    words: tuple[str, ...] = ()  # typed words that also start it (compared folded: no diacritics, any case)
    button: str = ""  # catalogue key of its main-menu button (a label that, typed or tapped, starts it)
    in_menu: bool = True  # in the person's command menu and their /trogiup
    public: bool = False  # in everyone's menu, before registration too
    moves_draft: bool = False  # starts or moves the conversation: no "you have a draft" hint after it
    control: str = ""  # the engine's control it stands for, when it is one

    def allows(self, memberships: list[Membership]) -> bool:
        return any(m.role in self.roles for m in memberships)

    def refusal(self) -> str:
        """The catalogue key said to someone whose roles do not allow it."""
        return "role.not_cadre" if self.roles == (CADRE,) else "role.not_allowed"

    def typed_forms(self) -> frozenset[str]:
        return frozenset({*(fold(w) for w in self.words), *((fold(t(self.button)),) if self.button else ())})


@dataclass(frozen=True)
class Button:
    """A pressed button that is not an answer to the conversation: "<prefix>:…"."""

    prefix: str
    handler: ButtonHandler | None  # None: "cmd:<name>", which runs that command (from a reminder, a list)
    command: str = ""  # gated by this command's roles; "" when the handler checks on its own


COMMANDS: tuple[Command, ...] = (
    Command("start", onboarding.start, EVERYONE, in_menu=False, public=True),
    Command("decu", drafts.nominate, (CADRE,), ("de cu", "decu"), button="menu.nominate", moves_draft=True),
    Command("hoso", cases.my_cases, (CADRE,), ("ho so", "hoso", "ho so cua toi"), button="menu.my_cases"),
    Command("choduyet", review.pending_command, (SECRETARY,), ("cho duyet", "choduyet"), button="menu.pending"),
    Command("thongke", listing.statistics, (SECRETARY, OFFICIAL), ("thong ke", "thongke"), button="menu.stats"),
    Command("trangthai", cases.case_status, (CADRE, SECRETARY, OFFICIAL), ("trang thai", "xem ho so")),
    Command("danhsach", listing.case_list, (CADRE, SECRETARY, OFFICIAL), ("danh sach",)),
    Command("xuat", exports.export_command, (SECRETARY, OFFICIAL), ("xuat", "xuat ho so")),
    Command("han", deadlines.deadlines, (CADRE, SECRETARY, OFFICIAL)),
    Command("themhan", deadlines.add_deadline, (SECRETARY, OFFICIAL), ("them han",)),
    Command("sua", drafts.fix_command, (CADRE,), ("sua ho so",), moves_draft=True),
    Command("rut", review.withdraw_command, (CADRE,), ("rut ho so",)),
    Command("khenthuong", review.commend, (SECRETARY,), ("khen thuong",)),
    Command("donvi", people.units, (SECRETARY,), ("don vi",)),
    Command("moi", people.invite, (SECRETARY,)),
    Command("nguoi", people.people, (SECRETARY,)),
    Command("thuhoi", people.revoke, (SECRETARY,), ("thu hoi",)),
    Command("nhacnho", deadlines.reminders, (CADRE, SECRETARY, OFFICIAL), ("nhac nho",)),
    Command("lienket", linking.link_command, EVERYONE, ("lien ket",)),
    Command("quaylai", None, (CADRE,), control="back"),
    Command("huy", None, (CADRE,), control="cancel"),
    Command("trogiup", None, EVERYONE, ("tro giup", "trogiup", "huong dan", "help"), button="menu.help",
            public=True, control="help"),
)

BUTTONS: tuple[Button, ...] = (
    Button("cmd", None),
    Button("rv", review.choose),  # checks the reviewer's scope on the case itself: refused as "not found"
    Button("wd", review.withdraw_choice, "rut"),
    Button("fix", drafts.fix_button, "sua"),
    Button("pref", deadlines.choose, "nhacnho"),
    Button("draft", drafts.resume_choice, "decu"),
    Button("ls", listing.page_choice, "danhsach"),
    Button("xu", exports.export_choice, "xuat"),
    Button("tk", listing.stats_choice, "thongke"),
)

BY_NAME = {c.name: c for c in COMMANDS}
BUTTON_BY_PREFIX = {b.prefix: b for b in BUTTONS}
_BY_WORDS = {form: c.name for c in COMMANDS for form in c.typed_forms()}
_BY_FORM = _BY_WORDS | {c.name: c.name for c in COMMANDS}  # "rut", "trangthai": a command's name, slash left out
_LONGEST_FORM = max(len(form.split()) for form in _BY_FORM)


def command(name: str) -> Command | None:
    return BY_NAME.get(name)


def button(choice: str) -> Button | None:
    return BUTTON_BY_PREFIX.get(choice.partition(":")[0])


def command_for_words(text: str) -> str:
    """The command typed words (or a main-menu button's label) mean, or ""."""
    return _BY_WORDS.get(fold(text), "")


def typed_command(text: str) -> tuple[str, str]:
    """A command typed without its slash, with what follows it: "rut NT-2026-00001", "rút hồ sơ NT-2026-00001",
    "trangthai NT-2026-00042", "cho duyet 2". The longest run of leading words that names a command (by its
    name or its words) wins; ("", "") when none does."""
    words = text.split()
    for count in range(min(len(words), _LONGEST_FORM), 0, -1):
        name = _BY_FORM.get(fold(" ".join(words[:count])), "")
        if name:
            return name, text.split(None, count)[count] if len(words) > count else ""
    return "", ""


def public_commands() -> tuple[tuple[str, str], ...]:
    return tuple((c.name, t(f"command.{c.name}")) for c in COMMANDS if c.public)


def commands_for(memberships: list[Membership]) -> tuple[tuple[str, str], ...]:
    """This person's command menu, as (command, description)."""
    return tuple((c.name, t(f"command.{c.name}")) for c in COMMANDS if c.in_menu and c.allows(memberships))


def main_menu(memberships: list[Membership]) -> tuple[str, ...]:
    return tuple(t(c.button) for c in COMMANDS if c.button and c.allows(memberships))


def help_text(memberships: list[Membership]) -> str:
    lines = [t("help.title")]
    lines += [t("help.line", command=c.name, text=t(f"help.line.{c.name}"))
              for c in COMMANDS if c.in_menu and c.allows(memberships)]
    return "\n".join([*lines, t("help.typing")])
