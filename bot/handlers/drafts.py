"""/decu (start a nomination, or offer to continue the draft) and /sua (fix a returned case), and their
buttons: the conversation's own commands, run through the request's conversation service."""

from __future__ import annotations

from bot import casework
from bot.flows.nomination import FIX
from bot.handlers import review
from bot.request import Request
from common.events import Choice, Reply
from common.messages import t
from storage import repo


async def nominate(request: Request) -> list[Reply]:
    if request.conversation is not None:
        return request.conversations.offer_resume(request, request.conversation)
    return await request.conversations.start_nomination(request, None)


async def fix_command(request: Request) -> list[Reply]:
    return await _fix(request, request.event.args.strip())


async def fix_button(request: Request, choice: str) -> list[Reply]:
    return await _fix(request, choice.partition(":")[2])


async def _fix(request: Request, case_ref: str) -> list[Reply]:
    if not case_ref:  # "/sua" alone: the one case to fix, or a choice of them
        returned = await repo.cases_of_nominator_in(request.session, request.person.id, casework.S.RETURNED)
        if len(returned) != 1:
            choices = tuple(Choice(f"{case.code} – {case.name}", f"fix:{case.id}") for case in returned)
            return [Reply(t("fix.which") if choices else t("fix.none"), choices)]
        case_ref = str(returned[0].id)
    target = await review.fix_target(request, case_ref)
    if isinstance(target, str):
        return [Reply(target)]
    conversation = request.conversation
    if conversation is not None:
        if conversation.flow == FIX.name and conversation.state.get("data", {}).get("case_id") == target.id:
            return await request.conversations.reprompt(request, conversation)
        return [Reply(t("fix.draft_first"))]
    return await request.conversations.start_fix(request, target)


async def resume_choice(request: Request, choice: str) -> list[Reply]:
    if request.conversation is None:  # an old button: the draft was finished or cancelled meanwhile
        return await nominate(request)
    return await request.conversations.resume(request, request.conversation, start_over=choice == "draft:restart")
