/*
 * clip.h - copying to the clipboard of the terminal (clip.c), with the
 * OSC 52 escape, which xterm and its kin, tmux (set-clipboard on) and
 * ssh all carry, so that a copy made in a browser on another machine
 * lands on this one.
 */
#ifndef DUO_TUI_CLIP_H
#define DUO_TUI_CLIP_H

#include <stddef.h>

#include "tui.h"

/* Handle y (ACT_COPY): copy what the keys are on, the token's piece or
 * route, and say what was copied; 1 if action was y. */
int clip_request(struct app *app, enum action_id action);
/* Send n bytes to the terminal's clipboard (nothing in a headless run);
 * -1 out of memory. */
int clip_send(struct app *app, const char *bytes, size_t n);
/* The base64 of n bytes into out, which holds 4 * ((n + 2) / 3) + 1
 * bytes; returns the length written. */
size_t clip_base64(const unsigned char *in, size_t n, char *out);

#endif
