"""The flow engine on its own: pure, no database (the rules a reviewer found broken, among others)."""

from __future__ import annotations

from datetime import date

from bot.flows.engine import Context, Engine, Input, PhotoInput, State
from bot.flows.nomination import FIX, NOMINATION
from common.messages import t

CTX = Context(today=date(2026, 11, 22), home_address="Thôn Đông, Phường Hoàn Kiếm")
ENGINE = Engine(NOMINATION)
PHOTO = {"sha256": "a" * 64, "size": 1, "width": 1, "height": 1, "mime_type": "image/jpeg"}


def run(state: State, *texts: str, engine: Engine = ENGINE):
    outcome = None
    for text in texts:
        outcome = engine.handle(state, Input(text=text), CTX)
        state = outcome.state
    return outcome


def individual_until(step: str) -> State:
    state = ENGINE.start(CTX).state
    answers = ("1", "Nguyễn Văn An", "1970", "Kinh", "không có", "1", "4", "Không rõ",
               "Ông An đã cứu hai em nhỏ bị đuối nước.", "hôm qua")  # kind … when, in order
    for text in answers:
        if state.step == step:
            break
        state = run(state, text).state
    return state


def test_kho_is_an_ethnic_group_not_a_prefix_of_khong_ro():
    state = individual_until("ethnicity")
    assert run(state, "K'Ho").state.answers["ethnicity"] == "Cơ Ho"
    state = individual_until("ethnicity")
    assert run(state, "khong ro").state.answers["ethnicity"] is None
    state = individual_until("ethnicity")
    assert run(state, "2").state.answers["ethnicity"] == "Tày"


def test_at_the_photo_step_words_mean_done_and_clearing_needs_the_exact_button():
    state = individual_until("photos")
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    for word in ("ảnh", "gửi lại", "hết ảnh nhé"):
        outcome = run(State.from_json(state.to_json()), word)
        assert outcome.replies[0].text == t("photos.need_photo") and outcome.state.answers["photos"] == [PHOTO]
    for word in ("xong rồi", "đủ rồi", "hết", "Xong"):
        assert run(State.from_json(state.to_json()), word).state.step == "phone", word
    cleared = run(State.from_json(state.to_json()), "2").state  # the number of "Xóa hết ảnh, gửi lại"
    assert cleared.answers["photos"] == [] and cleared.step == "photos"


def test_the_fix_flow_visits_every_flagged_answer_before_the_summary():
    state = run(individual_until("photos"), "xong").state  # no photos: asked again
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    state = run(state, "xong", "bo qua", "co").state
    fix = Engine(FIX)
    flagged = State(step="name", answers=dict(state.answers), editing=True, queue=["photos", "phone"],
                    data={"case_id": 1})
    after_name = run(flagged, "Nguyễn Văn Bình", engine=fix).state
    assert after_name.step == "photos"
    after_photos = run(after_name, "xong", engine=fix).state
    assert after_photos.step == "phone"
    done = run(after_photos, "0912345678", engine=fix)
    assert done.state.step == "summary" and done.events == ["summary"]
    assert done.replies[0].choices[0].label == t("summary.resend")


def test_back_skips_questions_that_no_longer_apply_after_the_kind_changed():
    state = individual_until("photos")
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    state = run(state, "xong", "bo qua", "co").state
    assert state.step == "summary"
    state = ENGINE.handle(state, Input(choice="summary:edit"), CTX).state
    state = ENGINE.handle(state, Input(choice="summary:edit.kind"), CTX).state
    state = run(state, "tap the", "bo qua").state  # collective: a representative, then the summary
    assert state.step == "summary"
    visited = []
    for _ in range(12):
        state = ENGINE.handle(state, Input(control="back"), CTX).state
        visited.append(state.step)
    assert not {"birth_year", "ethnicity", "position"} & set(visited)
    assert visited[-1] == "kind"
