-- The publication $1: does it publish every kind of change, and for all tables?
SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate, puballtables
  FROM pg_publication WHERE pubname = $1
