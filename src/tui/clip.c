/*
 * clip.c - y: the token under the cursor copied to the terminal's
 * clipboard with OSC 52 (ESC ] 52 ; c ; BASE64 BEL).  In the route map,
 * and in the text view's detail pane, y copies the route of the chosen
 * method at the budget; in the tokens view the number in the sort column
 * (view_tokens.c asks clip_send itself); elsewhere the token's piece, its
 * bytes as the text has them.  --no-osc52 turns it off, for a terminal that shows the
 * escape instead of obeying it.
 */
#include "clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "run.h"

/* The most bytes copied: terminals cap OSC 52 near 100 kB. */
#define CLIP_MAX 65536

size_t
clip_base64(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, used = 0;
	unsigned long group;

	for (i = 0; i + 2 < n; i += 3) {
		group = (unsigned long)in[i] << 16 |
		    (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[used++] = digits[group >> 18 & 63];
		out[used++] = digits[group >> 12 & 63];
		out[used++] = digits[group >> 6 & 63];
		out[used++] = digits[group & 63];
	}
	if (i < n) {
		group = (unsigned long)in[i] << 16 |
		    (i + 1 < n ? (unsigned long)in[i + 1] << 8 : 0);
		out[used++] = digits[group >> 18 & 63];
		out[used++] = digits[group >> 12 & 63];
		out[used++] = i + 1 < n ? digits[group >> 6 & 63] : '=';
		out[used++] = '=';
	}
	out[used] = '\0';
	return used;
}

int
clip_send(struct app *app, const char *bytes, size_t n)
{
	char *encoded = malloc(4 * ((n + 2) / 3) + 1);

	if (encoded == NULL)
		return -1;
	clip_base64((const unsigned char *)bytes, n, encoded);
	/* Past curses, which would count the bytes as cells: the escape
	 * moves nothing.  A headless run has no terminal to tell. */
	if (app->script == NULL) {
		printf("\033]52;c;%s\a", encoded);
		fflush(stdout);
	}
	free(encoded);
	return 0;
}

int
clip_request(struct app *app, enum action_id action)
{
	const struct tui_run *run = app->run;
	const struct token_record *t;
	enum view_id id = app_view_id(app);
	int k, route_wanted;
	const char *route;
	char shown[256];

	if (action != ACT_COPY || run == NULL)
		return 0;
	if (app->options.no_osc52) {
		app_error(app, "copying is off (--no-osc52)");
		return 1;
	}
	k = app_budget(app, run->L);
	route_wanted = id == VIEW_ROUTES ||
	    (id == VIEW_TEXT && app_view(app)->focus == 1);
	if (route_wanted) {
		route = run_route(run, app->method, k, app->cursor);
		if (route == NULL) {
			app_error(app, "%s has no route to copy at token %zu",
			    run->methods[app->method].name, app->cursor);
			return 1;
		}
		if (clip_send(app, route, strlen(route)) != 0) {
			app_error(app, "out of memory");
			return 1;
		}
		app_message(app, "copied the route %s of %s at token %zu",
		    route, run->methods[app->method].name, app->cursor);
		return 1;
	}
	t = &run->data.tokens[app->cursor];
	if (t->piece_length > CLIP_MAX ||
	    clip_send(app, t->piece, t->piece_length) != 0) {
		app_error(app, "token %zu's piece is too long to copy",
		    app->cursor);
		return 1;
	}
	app_message(app, "copied the piece \"%s\" of token %zu (%zu bytes)",
	    piece_escape(&app->glyphs, t->piece, t->piece_length, shown,
	    sizeof shown), app->cursor, t->piece_length);
	return 1;
}
