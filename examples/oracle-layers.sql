-- Where the oracle of run 1 spends its big modules at budget 4: for each
-- layer, the share of tokens whose oracle route puts B there.
SELECT layer,
       printf('%.3f', share_big) AS share_big,
       substr('########################################', 1,
              CAST(round(share_big * 40) AS INTEGER)) AS bar
FROM allocation
WHERE run_id = 1 AND method = 'oracle' AND budget = 4
ORDER BY layer;
