window.YTD.tweets.part1 = [
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
      "entities" : {
        "hashtags" : [
          {
            "text" : "Paris",
            "indices" : [ "31", "37" ]
          }
        ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "40" ],
      "favorite_count" : "12",
      "id_str" : "1060000000000000003",
      "truncated" : false,
      "retweet_count" : "2",
      "id" : "1060000000000000003",
      "created_at" : "Sat Nov 10 09:00:00 +0000 2018",
      "favorited" : false,
      "full_text" : "Il fait beau aujourd&#39;hui à #Paris ☀️",
      "lang" : "fr"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [
          {
            "name" : "jack",
            "screen_name" : "jack",
            "indices" : [ "0", "5" ],
            "id_str" : "12",
            "id" : "12"
          },
          {
            "name" : "Biz Stone",
            "screen_name" : "biz",
            "indices" : [ "6", "10" ],
            "id_str" : "13",
            "id" : "13"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "60" ],
      "favorite_count" : "0",
      "in_reply_to_status_id_str" : "1059999999999999999",
      "id_str" : "1060000000000000004",
      "in_reply_to_user_id" : "12",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1060000000000000004",
      "in_reply_to_status_id" : "1059999999999999999",
      "created_at" : "Sun Nov 11 12:30:45 +0000 2018",
      "favorited" : false,
      "full_text" : "@jack @biz thanks for the follow! see www.example.com/about",
      "lang" : "en",
      "in_reply_to_screen_name" : "jack",
      "in_reply_to_user_id_str" : "12"
    }
  }
]
