#!/usr/bin/env bash
# verstore text analysis (issue 17): search in Chinese, Japanese, French,
# German and English through the real verstore; analyzer/search_analyzer in
# mappings, custom analyzers from settings, _analyze (global, per index, per
# field) answering as Elasticsearch does, and the refusals Elasticsearch
# gives (unknown analyzers, analysis settings changed after creation).
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# hit_set DESC INDEX QUERY EXPECTED_IDS — the ids of the hits, sorted.
hit_set() {
  http POST "/$2/_search" "$3"
  assert_eq "$1" "$4" "$(jqb '[.hits.hits[]._id] | sort')"
}
# match DESC INDEX FIELD TEXT EXPECTED_IDS
match() { hit_set "$1" "$2" "{\"query\":{\"match\":{\"$3\":\"$4\"}}}" "$5"; }

# ---- the default (standard) analyzer on a dynamically mapped index ---------------
http POST '/_bulk?refresh=true' '{"index":{"_index":"docs","_id":"zh"}}
{"title":"乐观锁并发控制"}
{"index":{"_index":"docs","_id":"ja"}}
{"title":"東京都は日本の首都であり、カタカナも使う"}
{"index":{"_index":"docs","_id":"fr"}}
{"title":"CAFÉ de Paris, Élan vital"}
{"index":{"_index":"docs","_id":"de"}}
{"title":"Die Straße nach MÜNCHEN"}
{"index":{"_index":"docs","_id":"en"}}
{"title":"The QUICK brown foxes"}
{"index":{"_index":"docs","_id":"ko"}}
{"title":"한국어 검색 테스트"}
' application/x-ndjson
assert_json "bulk load: no errors" .errors false

match "Chinese: 乐观 finds 乐观锁并发控制" docs title "乐观" '["zh"]'
match "Chinese: 锁 alone" docs title "锁" '["zh"]'
match "Chinese: 并发" docs title "并发" '["zh"]'
match "Chinese: the whole sentence" docs title "乐观锁并发控制" '["zh"]'
hit_set "Chinese: match_phrase 并发控制 (consecutive ideographs)" docs \
  '{"query":{"match_phrase":{"title":"并发控制"}}}' '["zh"]'
hit_set "Chinese: match_phrase 控制并发 (wrong order) finds nothing" docs \
  '{"query":{"match_phrase":{"title":"控制并发"}}}' '[]'
match "Japanese: 首都 (kanji, one token each)" docs title "首都" '["ja"]'
match "Japanese: カタカナ (a Katakana run is one token)" docs title "カタカナ" '["ja"]'
hit_set "Japanese: term カタ is no token of the run" docs '{"query":{"term":{"title":"カタ"}}}' '[]'
match "French: café finds CAFÉ (Unicode lowercase)" docs title "café" '["fr"]'
match "French: élan finds Élan" docs title "élan" '["fr"]'
hit_set "French: term cafe (unfolded) needs asciifolding" docs '{"query":{"term":{"title":"cafe"}}}' '[]'
match "German: münchen finds MÜNCHEN" docs title "münchen" '["de"]'
match "German: STRASSE is not straße (lowercase is not folding)" docs title "STRASSE" '[]'
match "German: STRAßE finds Straße" docs title "STRAßE" '["de"]'
match "English: quick finds QUICK" docs title "quick" '["en"]'
match "English: fox is not foxes without a stemmer" docs title "fox" '[]'
match "Korean: 검색 (a Hangul word)" docs title "검색" '["ko"]'
hit_set "query_string in Chinese" docs '{"query":{"query_string":{"query":"并发","default_field":"title"}}}' '["zh"]'

# ---- analyzer and search_analyzer from the mapping, custom analyzers ------------------
http PUT /lang '{
  "settings": {"analysis": {
    "analyzer": {
      "folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
      "de_stem": {"tokenizer": "standard", "filter": ["lowercase", "german_snow"]},
      "syn": {"tokenizer": "standard", "filter": ["lowercase", "my_syn"]},
      "auto": {"tokenizer": "auto_edge", "filter": ["lowercase"]}
    },
    "filter": {
      "german_snow": {"type": "snowball", "language": "German"},
      "my_syn": {"type": "synonym", "synonyms": ["laptop, notebook", "tv => television"]}
    },
    "tokenizer": {"auto_edge": {"type": "edge_ngram", "min_gram": 2, "max_gram": 10, "token_chars": ["letter"]}}
  }},
  "mappings": {"properties": {
    "en": {"type": "text", "analyzer": "english"},
    "fr": {"type": "text", "analyzer": "folded"},
    "de": {"type": "text", "analyzer": "de_stem"},
    "zh": {"type": "text", "analyzer": "cjk"},
    "kw": {"type": "text", "analyzer": "keyword"},
    "syn": {"type": "text", "analyzer": "syn"},
    "ac": {"type": "text", "analyzer": "auto", "search_analyzer": "standard"}
  }}}'
assert_eq "create an index with custom analyzers: 200" 200 "$HTTP_STATUS"
http POST '/_bulk?refresh=true' '{"index":{"_index":"lang","_id":"1"}}
{"en":"The foxes were jumping over lazy dogs","fr":"Un CAFÉ, Élysée","de":"Die Häuser der Katzen","zh":"乐观锁并发控制","kw":"New York","syn":"cheap laptop","ac":"Elasticsearch"}
{"index":{"_index":"lang","_id":"2"}}
{"en":"A fox jumped","fr":"elysee cafe","de":"Ein Haus","zh":"悲观锁","kw":"new york","syn":"a television set","ac":"Elastic"}
' application/x-ndjson
assert_json "bulk into the analysed index: no errors" .errors false

match "english: jump finds jumping and jumped (Porter)" lang en "jump" '["1","2"]'
match "english: stop words alone find nothing" lang en "the and of" '[]'
match "english: dog's finds dogs (possessive, stem)" lang en "dog's" '["1"]'
match "asciifolding: cafe finds CAFÉ and cafe" lang fr "cafe" '["1","2"]'
match "asciifolding: ÉLYSÉE finds Élysée and elysee" lang fr "ÉLYSÉE" '["1","2"]'
match "German snowball: Katze finds Katzen" lang de "Katze" '["1"]'
match "German snowball: Häusern finds Häuser and Haus" lang de "Häusern" '["1","2"]'
match "cjk bigrams: 乐观 finds 乐观锁并发控制" lang zh "乐观" '["1"]'
match "cjk bigrams: 锁并 (a bigram across words) too" lang zh "锁并" '["1"]'
match "cjk bigrams: 观锁 is in both" lang zh "观锁" '["1","2"]'
match "cjk bigrams: 锁 alone is no bigram of either" lang zh "锁" '[]'
hit_set "cjk: match_phrase 并发控制" lang '{"query":{"match_phrase":{"zh":"并发控制"}}}' '["1"]'
match "keyword analyzer: the exact value" lang kw "New York" '["1"]'
match "keyword analyzer: a word of it finds nothing" lang kw "York" '[]'
match "synonyms: notebook finds laptop" lang syn "notebook" '["1"]'
match "synonyms: tv finds television" lang syn "tv" '["2"]'
match "edge_ngram index analyzer, standard search analyzer: elas" lang ac "elas" '["1","2"]'
match "… elasticse" lang ac "elasticse" '["1"]'
match "… the search analyzer does not n-gram the query (elx)" lang ac "elx" '[]'

hit_set "a query's analyzer overrides the field's (english on a standard field)" docs \
  '{"query":{"match":{"title":{"query":"the foxes","analyzer":"english"}}}}' '[]'
hit_set "… simple finds QUICK" docs '{"query":{"match":{"title":{"query":"QUICK","analyzer":"simple"}}}}' '["en"]'
http POST /docs/_search '{"query":{"match":{"title":{"query":"x","analyzer":"nope"}}}}'
assert_eq "a query naming an unknown analyzer: 400" 400 "$HTTP_STATUS"
assert_match "… Elasticsearch's reason" 'analyzer \[nope\] not found' "$(jqb .error.root_cause[0].reason)"

# ---- _analyze -----------------------------------------------------------------------------
http POST /_analyze '{"analyzer":"standard","text":"Quick Brown Foxes!"}'
assert_eq "_analyze: 200" 200 "$HTTP_STATUS"
assert_json "_analyze: the analyze API page's example, exactly" . \
  '{"tokens":[{"token":"quick","start_offset":0,"end_offset":5,"type":"<ALPHANUM>","position":0},{"token":"brown","start_offset":6,"end_offset":11,"type":"<ALPHANUM>","position":1},{"token":"foxes","start_offset":12,"end_offset":17,"type":"<ALPHANUM>","position":2}]}'
http GET /_analyze '{"tokenizer":"standard","text":"The 2 QUICK Brown-Foxes jumped over the lazy dog'\''s bone."}'
assert_json "GET _analyze: the standard tokenizer page's tokens" '[.tokens[].token]' \
  '["The","2","QUICK","Brown","Foxes","jumped","over","the","lazy","dog'\''s","bone"]'
http POST /_analyze '{"tokenizer":"standard","filter":["cjk_bigram"],"text":"東京都は、日本の首都であり"}'
assert_json "_analyze: the cjk_bigram page's tokens" '[.tokens[].token]' \
  '["東京","京都","都は","日本","本の","の首","首都","都で","であ","あり"]'
http POST /_analyze '{"analyzer":"english","text":"The 2 QUICK Brown-Foxes jumped over the lazy dog'\''s bone."}'
assert_json "_analyze: english" '[.tokens[].token]' '["2","quick","brown","fox","jump","over","lazi","dog","bone"]'
http POST /_analyze '{"tokenizer":"standard","text":"乐观 𠀀x"}'
assert_json "_analyze: types and UTF-16 offsets" '[.tokens[] | [.token,.start_offset,.end_offset,.type,.position]]' \
  '[["乐",0,1,"<IDEOGRAPHIC>",0],["观",1,2,"<IDEOGRAPHIC>",1],["𠀀",3,5,"<IDEOGRAPHIC>",2],["x",5,6,"<ALPHANUM>",3]]'
http POST /lang/_analyze '{"analyzer":"folded","text":["Élan","CAFÉ"]}'
assert_json "/{index}/_analyze with a custom analyzer, text as an array" \
  '[.tokens[] | [.token,.start_offset,.end_offset,.position]]' '[["elan",0,4,0],["cafe",5,9,101]]'
http POST /lang/_analyze '{"field":"en","text":"running dogs"}'
assert_json "/{index}/_analyze by field: the field's analyzer" '[.tokens[].token]' '["run","dog"]'
http POST /lang/_analyze '{"tokenizer":"auto_edge","text":"Quick"}'
assert_json "/{index}/_analyze with the index's tokenizer" '[.tokens[].token]' '["Qu","Qui","Quic","Quick"]'
http POST /_analyze '{"analyzer":"folded","text":"x"}'
assert_eq "_analyze: an index's analyzer is not global: 400" 400 "$HTTP_STATUS"
assert_json "… Elasticsearch's reason" .error.reason '"failed to find global analyzer [folded]"'
http POST /lang/_analyze '{"analyzer":"nope","text":"x"}'
assert_json "/{index}/_analyze: unknown analyzer" '[.status, .error.type, .error.reason]' \
  '[400,"illegal_argument_exception","failed to find analyzer [nope]"]'
http POST /_analyze '{"analyzer":"standard"}'
assert_eq "_analyze without text: 400" 400 "$HTTP_STATUS"
http POST /nosuch/_analyze '{"text":"x"}'
assert_eq "_analyze on a missing index: 404" 404 "$HTTP_STATUS"

# ---- refusals -------------------------------------------------------------------------------
http PUT /bad1 '{"mappings":{"properties":{"t":{"type":"text","analyzer":"nope"}}}}'
assert_json "mapping naming an unknown analyzer: Elasticsearch's 400" '[.status, .error.type, .error.reason]' \
  '[400,"mapper_parsing_exception","Failed to parse mapping: analyzer [nope] has not been configured in mappings"]'
http PUT /bad2 '{"settings":{"analysis":{"analyzer":{"a":{"tokenizer":"nope"}}}}}'
assert_json "settings with an analyzer whose tokenizer does not exist: 400" '[.status, .error.type, .error.reason]' \
  '[400,"illegal_argument_exception","Custom Analyzer [a] failed to find tokenizer under name [nope]"]'
http HEAD /bad2
assert_eq "… and no index was created" 404 "$HTTP_STATUS"
http PUT /lang/_settings '{"index":{"analysis":{"analyzer":{"b":{"type":"simple"}}}}}'
assert_eq "changing analysis settings of an open index: 400" 400 "$HTTP_STATUS"
assert_match "… Elasticsearch's reason" '^"Can.t update non dynamic settings \[\[index\.analysis\.analyzer\.b\.type\]\] for open indices \[\[lang/' \
  "$(jqb .error.reason)"
http POST /lang/_analyze '{"analyzer":"b","text":"x"}'
assert_eq "… and the analyzer was not added" 400 "$HTTP_STATUS"
http PUT /lang/_mapping '{"properties":{"en":{"type":"text","analyzer":"simple"}}}'
assert_eq "changing a field's analyzer: 400" 400 "$HTTP_STATUS"
assert_match "… Elasticsearch's reason" 'Cannot update parameter \[analyzer\] from \[english\] to \[simple\]' "$(jqb .error.reason)"
http PUT /lang/_mapping '{"properties":{"new":{"type":"text","analyzer":"folded"}}}'
assert_eq "a new field with the index's analyzer: 200" 200 "$HTTP_STATUS"
http PUT /lang/_doc/3?refresh=true '{"new":"ÉTÉ"}'
match "… and documents are analysed with it" lang new "ete" '["3"]'
http PUT /lang/_mapping '{"properties":{"new2":{"type":"text","analyzer":"nope"}}}'
assert_eq "a new field with an unknown analyzer: 400" 400 "$HTTP_STATUS"

# ---- the analysis survives a restart ------------------------------------------------------
check "verstore stops cleanly" verstore_stop
check "verstore restarts" verstore_start
match "after a restart: asciifolding still applies to queries" lang fr "cafe" '["1","2"]'
match "after a restart: Chinese still found by 并发" docs title "并发" '["zh"]'

check "verstore stops cleanly" verstore_stop
done_testing
