-- How much of the oracle's gain over the best fixed route is label-free
-- in run 1, per budget: the label-free oracle (oracle_free) chooses each
-- token's route without its answer, so label_free_share = (L_fixed -
-- L_oracle_free) / (L_fixed - L_oracle) is the part of the gain that a
-- router could ever capture; the rest is the selection effect.  Budgets
-- where fixed already equals the oracle have no gain and are left out.
SELECT f.budget,
       printf('%.2f', f.ppl) AS fixed,
       printf('%.2f', o.ppl) AS oracle,
       printf('%.2f', a.ppl) AS oracle_free,
       printf('%.3f', (f.mean_loss - a.mean_loss)
                      / (f.mean_loss - o.mean_loss)) AS label_free_share
FROM curve AS f
JOIN curve AS o ON o.run_id = f.run_id AND o.method = 'oracle'
  AND o.budget = f.budget
JOIN curve AS a ON a.run_id = f.run_id AND a.method = 'oracle_free'
  AND a.budget = f.budget
WHERE f.run_id = 1 AND f.method = 'fixed'
  AND f.mean_loss - o.mean_loss > 1e-5
ORDER BY f.budget;
