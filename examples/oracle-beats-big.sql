-- Tokens of run 1 where the oracle with a single big module does better
-- than all-big, the largest gain first.
SELECT t.pos,
       replace(t.piece, char(10), '\n') AS piece,
       o.route,
       printf('%.3f', o.loss) AS oracle_1,
       printf('%.3f', b.loss) AS big,
       printf('%.3f', b.loss - o.loss) AS gain
FROM results AS o
JOIN results AS b ON b.run_id = o.run_id AND b.pos = o.pos
  AND b.method = 'big'
JOIN tokens AS t ON t.run_id = o.run_id AND t.pos = o.pos
WHERE o.run_id = 1 AND o.method = 'oracle' AND o.budget = 1
  AND o.loss < b.loss
ORDER BY b.loss - o.loss DESC, t.pos
LIMIT 10;
