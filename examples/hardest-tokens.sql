-- The ten tokens of run 1 that extra compute helps most.  difficulty is
-- loss(small) - loss(best): the loss, in nats, that the best route removes
-- compared with all-small.  loss_big says how surprising the token is.
SELECT pos,
       replace(piece, char(10), '\n') AS piece,
       printf('%.3f', loss_big) AS loss_big,
       printf('%.3f', loss_small) AS loss_small,
       printf('%.3f', loss_best) AS loss_best,
       printf('%.3f', difficulty) AS difficulty
FROM difficulty
WHERE run_id = 1
ORDER BY difficulty DESC, pos
LIMIT 10;
