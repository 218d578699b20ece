-- How much of the way from the best fixed route to the oracle the router
-- 'probe' goes in run 1, per budget: gap closed = (L_fixed - L_router) /
-- (L_fixed - L_oracle), 1 meaning as good as the oracle.  Budgets where
-- fixed already equals the oracle (all-small, all-big) are left out.
SELECT f.budget,
       printf('%.3f', f.mean_loss) AS fixed,
       printf('%.3f', r.mean_loss) AS router,
       printf('%.3f', o.mean_loss) AS oracle,
       printf('%.3f', (f.mean_loss - r.mean_loss)
                      / (f.mean_loss - o.mean_loss)) AS gap_closed
FROM curve AS f
JOIN curve AS r ON r.run_id = f.run_id AND r.budget = f.budget
  AND r.method = 'router:probe'
JOIN curve AS o ON o.run_id = f.run_id AND o.budget = f.budget
  AND o.method = 'oracle'
WHERE f.run_id = 1 AND f.method = 'fixed' AND f.mean_loss > o.mean_loss
ORDER BY f.budget;
