-- Do tokens early in a window get more big modules?  The mean number of
-- B in each token's best route, by position in its window (in groups of
-- eight positions), over every run in the file.
SELECT (t.window_pos - 1) / 8 * 8 + 1 AS from_pos,
       (t.window_pos - 1) / 8 * 8 + 8 AS to_pos,
       count(*) AS tokens,
       printf('%.2f', avg(b.budget)) AS mean_budget
FROM tokens AS t
JOIN results AS b ON b.run_id = t.run_id AND b.pos = t.pos
  AND b.method = 'best'
WHERE t.pos >= 1
GROUP BY 1
ORDER BY 1;
