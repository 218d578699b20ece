-- Perplexity against budget (the number of big modules) for the oracle of
-- runs 1 and 2, side by side.  Change the ids, or the method to 'fixed',
-- 'random_best' or a router, to compare other curves.
SELECT a.budget,
       printf('%.3f', a.ppl) AS run_1,
       printf('%.3f', b.ppl) AS run_2
FROM curve AS a
JOIN curve AS b ON b.run_id = 2 AND b.method = a.method
  AND b.budget = a.budget
WHERE a.run_id = 1 AND a.method = 'oracle'
ORDER BY a.budget;
