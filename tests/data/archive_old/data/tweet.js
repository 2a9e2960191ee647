window.YTD.tweet.part0 = [ {
  "retweeted" : false,
  "source" : "<a href=\"http://twitter.com\" rel=\"nofollow\">Twitter Web Client</a>",
  "entities" : {
    "hashtags" : [ ],
    "symbols" : [ ],
    "user_mentions" : [ ],
    "urls" : [ ]
  },
  "display_text_range" : [ "0", "29" ],
  "favorite_count" : "1",
  "id_str" : "20",
  "truncated" : false,
  "retweet_count" : "0",
  "id" : "20",
  "created_at" : "Tue Mar 21 20:50:14 +0000 2006",
  "favorited" : false,
  "full_text" : "just setting up my twttr",
  "lang" : "en"
}, {
  "retweeted" : false,
  "source" : "<a href=\"http://twitter.com\" rel=\"nofollow\">Twitter Web Client</a>",
  "entities" : {
    "hashtags" : [ ],
    "symbols" : [ ],
    "user_mentions" : [ ],
    "urls" : [ ]
  },
  "display_text_range" : [ "0", "27" ],
  "favorite_count" : "0",
  "id_str" : "29",
  "truncated" : false,
  "retweet_count" : "0",
  "id" : "29",
  "created_at" : "Tue Mar 21 21:02:00 +0000 2006",
  "favorited" : false,
  "full_text" : "inviting coworkers &amp; friends",
  "lang" : "en"
} ]
