-- Every run made with the model of run 1 (the same file, by its SHA-256),
-- oldest first, with the perplexity of all-big and of the oracle at
-- budget 1.  To pick the model by name or hash instead, write for example
-- WHERE m.name = 'duo-tiny-a' or WHERE m.sha256 LIKE '3f2a%'.
SELECT r.id,
       r.created_at,
       r.label,
       m.name AS model,
       r.n_tokens,
       r.context,
       printf('%.3f', (SELECT exp(avg(loss)) FROM results
                       WHERE run_id = r.id AND method = 'big')) AS ppl_big,
       printf('%.3f', (SELECT exp(avg(loss)) FROM results
                       WHERE run_id = r.id AND method = 'oracle'
                         AND budget = 1)) AS ppl_oracle_1
FROM runs AS r
JOIN models AS m ON m.id = r.model_id
WHERE m.sha256 = (SELECT m1.sha256 FROM runs AS r1
                  JOIN models AS m1 ON m1.id = r1.model_id
                  WHERE r1.id = 1)
ORDER BY r.id;
