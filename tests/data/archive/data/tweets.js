window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "edit_info" : {
        "initial" : {
          "editTweetIds" : [
            "1050118621198921728"
          ],
          "editableUntil" : "2018-10-10T20:49:24.000Z",
          "editsRemaining" : "5",
          "isEditEligible" : false
        }
      },
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [
          {
            "url" : "https://t.co/AbCdEf1234",
            "expanded_url" : "https://example.com/blog/hello",
            "display_url" : "example.com/blog/hello",
            "indices" : [ "47", "70" ]
          }
        ]
      },
      "display_text_range" : [ "0", "70" ],
      "favorite_count" : "3",
      "id_str" : "1050118621198921728",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1050118621198921728",
      "possibly_sensitive" : false,
      "created_at" : "Wed Oct 10 20:19:24 +0000 2018",
      "favorited" : false,
      "full_text" : "Just setting up my blog &amp; loving it &lt;3 https://t.co/AbCdEf1234",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [
          {
            "name" : "jack",
            "screen_name" : "jack",
            "indices" : [ "3", "8" ],
            "id_str" : "12",
            "id" : "12"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "34" ],
      "favorite_count" : "0",
      "id_str" : "1050118621198921729",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1050118621198921729",
      "created_at" : "Wed Oct 10 21:02:11 +0000 2018",
      "favorited" : false,
      "full_text" : "RT @jack: just setting up my twttr",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"http://twitter.com/download/android\" rel=\"nofollow\">Twitter for Android</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [
          {
            "name" : "María G.",
            "screen_name" : "maria_g",
            "indices" : [ "0", "8" ],
            "id_str" : "987654321",
            "id" : "987654321"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "46" ],
      "favorite_count" : "1",
      "in_reply_to_status_id_str" : "1050100000000000000",
      "id_str" : "1050300000000000001",
      "in_reply_to_user_id" : "987654321",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1050300000000000001",
      "in_reply_to_status_id" : "1050100000000000000",
      "created_at" : "Thu Oct 11 08:15:00 +0000 2018",
      "favorited" : false,
      "full_text" : "@maria_g ¡Feliz cumpleaños! 🎂🎉 nos vemos pronto",
      "lang" : "es",
      "in_reply_to_screen_name" : "maria_g",
      "in_reply_to_user_id_str" : "987654321"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "3" ],
      "favorite_count" : "7",
      "id_str" : "1050400000000000002",
      "truncated" : false,
      "retweet_count" : "1",
      "id" : "1050400000000000002",
      "created_at" : "Fri Oct 12 17:45:09 +0000 2018",
      "favorited" : false,
      "full_text" : "😂😂😂",
      "lang" : "und"
    }
  }
]
