/*
 * registry.c - the one place the browser's views and background workers
 * are listed.  The core (app.c, script.c) walks these tables and calls
 * only their hooks; a new view or worker is a file of its own and a line
 * here.
 */
#include "tui.h"

#include "view.h"

const struct view_ops *const tui_views[N_VIEWS] = {
	[VIEW_RUNS] = &runs_view_ops,
	[VIEW_TEXT] = &text_view_ops,
	[VIEW_BUDGET] = &budget_view_ops,
	[VIEW_ROUTES] = &routes_view_ops,
	[VIEW_COMPARE] = &compare_view_ops,
	[VIEW_WHATIF] = &whatif_view_ops,
	[VIEW_TOKENS] = &tokens_view_ops,
	[VIEW_FINDINGS] = &findings_view_ops,
	[VIEW_NEWRUN] = &newrun_view_ops,
	[VIEW_HELP] = &help_view_ops,
};

/* In the order the loop polls them. */
const struct worker_ops *const tui_workers[] = {
	&loader_worker,
	&predictor_worker,
};
const size_t tui_n_workers = sizeof tui_workers / sizeof tui_workers[0];
