-- How far each learned router of run 1 goes from the best fixed route
-- towards the oracle, per budget: gap_closed = (L_fixed - L_router) /
-- (L_fixed - L_oracle), 1 meaning as good as the oracle, 0 no better than
-- fixed.  Budgets where fixed already equals the oracle (all-small,
-- all-big) have no gap and are left out.
SELECT method, budget,
       printf('%.2f', ppl) AS ppl,
       printf('%.2f', ppl_fixed) AS fixed,
       printf('%.2f', ppl_oracle) AS oracle,
       printf('%.3f', gap_closed) AS gap_closed,
       printf('%.3f', regret_p90) AS regret_p90
FROM router_metrics
WHERE run_id = 1 AND gap_closed IS NOT NULL
ORDER BY method, budget;
