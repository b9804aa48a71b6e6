"""A ``<video>`` element whose time Python can set and hears back: the one piece of JS the video view needs.

Panel's ``Video`` pane has a ``time`` both ways, but it reports every ``timeupdate`` and echoes
Python's own seeks back, so a synced player would move the shared window a few times per frame
and fight every seek. Here Python seeks by ``seek(seconds)`` (no echo), and the browser reports
``time`` when the person seeks, pauses, or (at most four times a second) while it plays.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

__all__ = ["MoviePlayer"]


class MoviePlayer(JSComponent):
    src = param.String(default="", doc="The movie's URL (the app's own movie route).")
    seek_to = param.Number(default=0.0, doc="Where Python last asked the player to be (s into the movie).")
    seeks = param.Integer(default=0, doc="Counts Python's seeks, so a seek to the same time still seeks.")
    playing = param.Boolean(default=False, doc="Both ways: playing now.")
    time = param.Number(default=0.0, doc="From the browser: where the person or playback put the movie (s).")
    duration = param.Number(default=None, allow_None=True, doc="From the browser: the movie's length (s).")
    ended = param.Integer(default=0, doc="From the browser: counts the times the movie played to its end.")
    error = param.String(default="", doc="From the browser: why the movie does not play.")

    _esm = """
export function render({ model, el }) {
  const video = document.createElement("video");
  Object.assign(video, { muted: true, playsInline: true, preload: "auto", controls: true });
  video.style.cssText = "width: 100%; max-height: 420px; background: #000";
  video.className = "nd-movie";
  let last = 0;
  const report = () => { model.time = video.currentTime; };
  const ours = () => Math.abs(video.currentTime - model.seek_to) < 1e-3;  // where Python put it: no echo
  const seek = () => {
    if (video.readyState >= 1 && !ours()) video.currentTime = model.seek_to;  // else loadedmetadata seeks
  };
  video.addEventListener("loadedmetadata", () => { model.duration = video.duration; seek();
    if (model.playing) video.play().catch(() => {}); });
  video.addEventListener("seeked", () => { if (!ours()) report(); });
  video.addEventListener("timeupdate", () => {
    const now = performance.now();
    if (video.paused || video.seeking || now - last < 250) return;
    last = now; report();
  });
  video.addEventListener("play", () => { model.playing = true; });
  video.addEventListener("pause", () => { if (!video.ended) { model.playing = false; report(); } });
  video.addEventListener("ended", () => { model.ended = model.ended + 1; });
  video.addEventListener("error", async () => {  // the server's reason (no file, not allowed) if it gave one
    let reason = "this browser cannot decode it (try H.264 mp4 or VP9 webm)";
    try {
      const answer = await fetch(model.src, { headers: { Range: "bytes=0-0" } });
      if (!answer.ok) reason = (await answer.text()).slice(0, 300) || `HTTP ${answer.status}`;
    } catch (e) { reason = "the server did not answer"; }
    model.error = reason;
  });
  model.on("seeks", seek);
  model.on("src", () => { model.error = ""; video.src = model.src; });
  model.on("playing", () => {
    if (model.playing && video.paused) video.play().catch(() => {});
    if (!model.playing && !video.paused) video.pause();
  });
  video.src = model.src;
  el.appendChild(video);
}
"""

    def seek(self, seconds: float) -> None:
        """Put the movie at ``seconds`` (no report comes back for it)."""
        self.param.update(seek_to=max(float(seconds), 0.0), seeks=self.seeks + 1)
