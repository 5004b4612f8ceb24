"""A model of Asterisk's dialplan engine (pbx.c) for the subset callcard's sample extensions.conf uses.

It reads the real sample file, runs a channel through it and talks FastAGI to callcard over TCP like res_agi.
What it models, each as real Asterisk 22 does it:
- the PBX loop: priorities in order, ``n``/labels, ``Goto``/``GotoIf`` with ``$[...]`` string comparisons,
  ``${VAR}`` substitution (channel variables, then ``[globals]``), falling off the end hangs up;
- Real Asterisk: when the channel hangs up, the ``h`` extension of the context the channel is IN AT THAT MOMENT
  runs (so after ``Goto(operators,...)`` the ``h`` of the entry context never runs), then the hangup handlers
  pushed with ``Set(CHANNEL(hangup_handler_push)=ctx,exten,prio)`` run, last pushed first, whatever the context;
- Real Asterisk: ``Stasis(app)`` fails at once when ``app`` is not registered (no ARI WebSocket for it):
  ``STASISSTATUS=FAILED`` and the dialplan continues with the next priority;
- ``AGI(agi://host:port/script,args)``: the agi_* environment, commands answered as res_agi does (``EXEC``,
  ``SET/GET VARIABLE``, ``CHANNEL STATUS``; 510 otherwise), and a ``HANGUP`` line then ``511`` for commands
  once the caller has hung up while the AGI runs;
- ``MixMonitor`` writes its file as format_wav does (sizes 0 until the channel is destroyed, see mixmonitor.py);
  the file is closed only after the ``h`` extension and the hangup handlers have run;
- ``kill()``: Asterisk killed -9: nothing more runs (no ``h``, no handler), recordings keep zeroed headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from telephony.demo import asterisk_env
from tests.peers.mixmonitor import AsteriskWav

Step = tuple[str, str]  # (application, raw data)

STATE_CODES = {"Down": 0, "Ring": 4, "Up": 6}


@dataclass
class Context:
    extensions: dict[str, dict[int, Step]] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)


def _split_app(text: str) -> Step:
    text = text.strip()
    if "(" not in text:
        return text, ""
    name, _, rest = text.partition("(")
    return name.strip(), rest[: rest.rfind(")")] if ")" in rest else rest


def parse_extensions(text: str) -> tuple[dict[str, Context], dict[str, str]]:
    """Contexts and [globals] of an extensions.conf (the subset the samples use)."""
    contexts: dict[str, Context] = {}
    globals_: dict[str, str] = {}
    current: str | None = None
    last_exten: str | None = None
    last_prio = 0
    for raw in text.splitlines():
        line = re.sub(r"(?<!\\);.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("[") and "]" in line:
            current = line[1 : line.index("]")]
            if current != "globals":
                contexts.setdefault(current, Context())
            continue
        if current == "globals":
            key, _, value = line.partition("=")
            globals_[key.strip()] = value.strip()
            continue
        if current is None or "=>" not in line:
            continue
        kind, _, body = (p.strip() for p in line.partition("=>"))
        ctx = contexts[current]
        if kind == "exten":
            exten, prio_text, app = body.split(",", 2)
            last_exten = exten.strip()
        elif kind == "same" and last_exten is not None:
            prio_text, app = body.split(",", 1)
        else:
            continue  # include => ..., ignorepat, etc.
        prio_text = prio_text.strip()
        label = None
        if m := re.fullmatch(r"(\w+)\((\w+)\)", prio_text):
            prio_text, label = m.group(1), m.group(2)
        prio = last_prio + 1 if prio_text == "n" else int(prio_text)
        last_prio = prio
        assert last_exten is not None
        ctx.extensions.setdefault(last_exten, {})[prio] = _split_app(app)
        if label:
            ctx.labels.setdefault(last_exten, {})[label] = prio
    return contexts, globals_


class Hangup(Exception):
    """The channel hung up (the PBX loop ends)."""


@dataclass
class PbxChannel:
    uniqueid: str
    name: str
    caller: str
    context: str
    exten: str
    priority: int = 1
    state: str = "Ring"
    audio: bytes = b""
    variables: dict[str, str] = field(default_factory=dict)
    hangup_handlers: list[tuple[str, str, int]] = field(default_factory=list)
    monitors: list[AsteriskWav] = field(default_factory=list)
    hangup_requested: asyncio.Event = field(default_factory=asyncio.Event)
    cause: int | None = None
    dead: bool = False
    apps_run: list[Step] = field(default_factory=list)
    destroyed: asyncio.Event = field(default_factory=asyncio.Event)
    agi_sessions: list[list[str]] = field(default_factory=list)
    hangup_at: tuple[str, int] | None = None  # test control: the caller hangs up (cause) when AGI sends this


class Pbx:
    """Runs channels through a dialplan; ``stasis_registered(app)`` says whether an ARI app is connected."""

    def __init__(
        self,
        extensions_conf: Path,
        *,
        agi_url: str | None = None,
        stasis_registered: Callable[[str], bool] = lambda app: False,
    ) -> None:
        self.contexts, self.globals = parse_extensions(extensions_conf.read_text())
        if agi_url is not None:
            self.globals["CALLCARD_AGI"] = agi_url
        self.stasis_registered = stasis_registered
        self._seq = 100
        self.channels: dict[str, PbxChannel] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # ----------------------------------------------------------------------------------- test controls

    def call(self, context: str, exten: str = "109", *, caller: str = "+77011234567", audio: bytes = b"") -> PbxChannel:
        """A caller arrives on the trunk into ``context``/``exten``; the PBX starts running it."""
        self._seq += 1
        ch = PbxChannel(
            uniqueid=f"{int(time.time())}.{self._seq}",
            name=f"PJSIP/trunk-{self._seq:08x}",
            caller=caller,
            context=context,
            exten=exten,
            audio=audio,
        )
        self.channels[ch.uniqueid] = ch
        self._tasks[ch.uniqueid] = asyncio.create_task(self._run(ch), name=f"pbx-{ch.uniqueid}")
        return ch

    async def reached(self, ch: PbxChannel, app: str, within: float = 10.0) -> None:
        """Wait until the channel runs ``app`` (e.g. Queue: the caller is with the operators)."""
        deadline = time.monotonic() + within
        while not any(a == app for a, _ in ch.apps_run):
            if ch.destroyed.is_set():
                raise AssertionError(f"channel ended without reaching {app}: {ch.apps_run}")
            assert time.monotonic() < deadline, f"{app} not reached: {ch.apps_run}"
            await asyncio.sleep(0.01)

    async def hangup(self, ch: PbxChannel, cause: int = 16) -> None:
        """The caller hangs up; waits until the channel is destroyed (h, handlers, MixMonitor closed)."""
        if ch.cause is None:
            ch.cause = cause
        ch.hangup_requested.set()
        await asyncio.wait_for(ch.destroyed.wait(), 20)

    async def kill(self) -> None:
        """Asterisk killed -9: every channel stops where it is; recordings keep their zeroed headers."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for ch in self.channels.values():
            for monitor in ch.monitors:
                monitor.kill()
        self.channels.clear()

    async def close(self) -> None:
        await self.kill()

    # --------------------------------------------------------------------------------------------- PBX

    def _step(self, ch: PbxChannel) -> Step | None:
        return self.contexts.get(ch.context, Context()).extensions.get(ch.exten, {}).get(ch.priority)

    async def _run(self, ch: PbxChannel) -> None:
        try:
            try:
                while True:
                    step = self._step(ch)
                    if step is None:  # autofallthrough: no more priorities, the channel hangs up
                        if ch.cause is None:
                            ch.cause = 16
                        raise Hangup
                    await self._exec(ch, step)
            except Hangup:
                pass
            ch.dead = True
            ch.variables["HANGUPCAUSE"] = str(ch.cause if ch.cause is not None else 16)
            # Real Asterisk: the h extension of the context the channel is in now, not the one it started in.
            if "h" in self.contexts.get(ch.context, Context()).extensions:
                await self._run_sub(ch, ch.context, "h", 1)
            # Real Asterisk: then the hangup handlers, last pushed first, whatever the context.
            while ch.hangup_handlers:
                await self._run_sub(ch, *ch.hangup_handlers.pop())
            # The channel is destroyed: MixMonitor's audiohook detaches and format_wav writes the sizes.
            for monitor in ch.monitors:
                monitor.close()
            ch.destroyed.set()
        finally:
            self.channels.pop(ch.uniqueid, None)

    async def _run_sub(self, ch: PbxChannel, context: str, exten: str, priority: int) -> None:
        ch.context, ch.exten, ch.priority = context, exten, priority
        with contextlib.suppress(Hangup, _Return):
            while (step := self._step(ch)) is not None:
                await self._exec(ch, step)

    def _subst(self, ch: PbxChannel, text: str) -> str:
        def var(name: str) -> str:
            if name == "EXTEN":
                return ch.exten
            if name == "UNIQUEID":
                return ch.uniqueid
            if name == "CHANNEL":
                return ch.name
            if name == "CALLERID(num)":
                return ch.caller
            return ch.variables.get(name, self.globals.get(name, ""))

        while m := re.search(r"\$\{([^${}]*)\}", text):
            text = text[: m.start()] + var(m.group(1)) + text[m.end() :]
        while m := re.search(r"\$\[([^\[\]]*)\]", text):
            text = text[: m.start()] + self._expr(m.group(1)) + text[m.end() :]
        return text

    @staticmethod
    def _expr(expr: str) -> str:
        m = re.fullmatch(r'\s*"?([^"=!]*?)"?\s*(!=|=)\s*"?([^"=!]*?)"?\s*', expr)
        if m is None:
            return expr.strip()
        left, op, right = m.groups()
        return "1" if (left == right) == (op == "=") else "0"

    def _goto(self, ch: PbxChannel, target: str) -> None:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 3:
            ch.context, ch.exten = parts[0], parts[1]
            prio = parts[2]
        elif len(parts) == 2:
            ch.exten, prio = parts
        else:
            prio = parts[0]
        labels = self.contexts.get(ch.context, Context()).labels.get(ch.exten, {})
        ch.priority = labels[prio] if prio in labels else int(prio)

    async def _exec(self, ch: PbxChannel, step: Step) -> None:
        app, raw = step
        ch.apps_run.append(step)
        data = self._subst(ch, raw)
        ch.priority += 1
        name = app.lower()
        if name in ("noop", "verbose"):
            return
        if name == "return":
            raise _Return
        if name == "answer":
            ch.state = "Up"
        elif name == "set":
            key, _, value = data.partition("=")
            key = key.strip().lstrip("_")
            if key == "CHANNEL(hangup_handler_push)":
                ctx, exten, prio = (p.strip() for p in value.split(",")[:3])
                ch.hangup_handlers.append((ctx, exten, int(prio)))
            else:
                ch.variables[key] = value
        elif name == "goto":
            self._goto(ch, data)
        elif name == "gotoif":
            cond, _, targets = data.partition("?")
            yes, _, no = targets.partition(":")
            chosen = yes if cond.strip() not in ("", "0") else no
            if chosen:
                self._goto(ch, chosen)
        elif name == "stasis":
            app_name = data.split(",")[0]
            if not self.stasis_registered(app_name):
                # Real Asterisk: "Stasis app 'callcard' not registered"; the application returns 0 at once.
                ch.variables["STASISSTATUS"] = "FAILED"
                return
            raise NotImplementedError("a Stasis hand-off to an ARI application is not modelled here")
        elif name == "mixmonitor":
            self._mixmonitor(ch, data.split(",")[0])
        elif name == "agi":
            await self._agi(ch, data)
        elif name in ("queue", "dial"):
            # The caller talks with an operator until someone hangs up.
            ch.state = "Up"
            for monitor in ch.monitors:
                monitor.write(ch.audio)
            await ch.hangup_requested.wait()
            raise Hangup
        elif name == "wait":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ch.hangup_requested.wait(), float(data or 0))
        elif name == "hangup":
            if ch.cause is None:
                ch.cause = int(data) if data.strip().isdigit() else 16
            raise Hangup
        else:
            raise NotImplementedError(f"dialplan application {app} is not modelled")
        if ch.hangup_requested.is_set() and not ch.dead:
            raise Hangup

    def _mixmonitor(self, ch: PbxChannel, path: str) -> None:
        ch.monitors.append(AsteriskWav(Path(path)))

    async def _agi(self, ch: PbxChannel, data: str) -> None:
        url, *args = (p.strip() for p in data.split(","))
        m = re.fullmatch(r"agi://([^:/]+):(\d+)/([^?]*)", url)
        assert m is not None, f"not a FastAGI URL: {url}"
        host, port, script = m.group(1), int(m.group(2)), m.group(3)
        env = asterisk_env(
            script=script,
            host=host,
            port=port,
            uniqueid=ch.uniqueid,
            channel=ch.name,
            caller=ch.caller,
            extension=ch.exten,
            context=ch.context,
            args=args,
        )
        commands: list[str] = []
        ch.agi_sessions.append(commands)
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            ch.variables["AGISTATUS"] = "FAILURE"  # Real Asterisk: connection refused -> AGISTATUS=FAILURE
            return
        told_hangup = False
        try:
            writer.write("".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n")
            await writer.drain()
            while line := await asyncio.wait_for(reader.readline(), 15):
                command = line.decode().strip()
                commands.append(command)
                if ch.hangup_at is not None and command.startswith(ch.hangup_at[0]) and ch.cause is None:
                    ch.cause = ch.hangup_at[1]
                    ch.hangup_requested.set()
                if ch.hangup_requested.is_set() and not ch.dead:
                    if not told_hangup:  # Real Asterisk: FastAGI gets "HANGUP" once the channel hangs up
                        writer.write(b"HANGUP\n")
                        told_hangup = True
                    writer.write(b"511 Command Not Permitted on a dead channel or intercepted handler\n")
                else:
                    writer.write((self._agi_reply(ch, command) + "\n").encode())
                await writer.drain()
            ch.variables["AGISTATUS"] = "SUCCESS"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _agi_reply(self, ch: PbxChannel, command: str) -> str:
        words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', command)
        tokens = [a or b for a, b in words]
        upper = [t.upper() for t in tokens]
        if upper[:1] == ["EXEC"] and len(tokens) >= 2:
            app, options = tokens[1], tokens[2] if len(tokens) > 2 else ""
            if app.lower() == "mixmonitor":
                self._mixmonitor(ch, options.split(",")[0])
                return "200 result=0"
            return "200 result=-2"  # Real Asterisk: an application it does not know
        if upper[:2] == ["SET", "VARIABLE"] and len(tokens) >= 4:
            ch.variables[tokens[2]] = tokens[3]
            return "200 result=1"
        if upper[:2] == ["GET", "VARIABLE"] and len(tokens) >= 3:
            value = ch.variables.get(tokens[2])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if upper[:2] == ["CHANNEL", "STATUS"]:
            return f"200 result={STATE_CODES.get(ch.state, 0)}"
        return "510 Invalid or unknown command"


class _Return(Exception):
    """Return() ends a hangup handler's subroutine."""
