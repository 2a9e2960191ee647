window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [
          {
            "url" : "https://t.co/Zx9Yw8Vu7T",
            "expanded_url" : "https://github.com/example/tweetlm",
            "display_url" : "github.com/example/tweetlm",
            "indices" : [ "41", "64" ]
          }
        ]
      },
      "display_text_range" : [ "0", "64" ],
      "favorite_count" : "42",
      "id_str" : "1234567890123456789",
      "truncated" : false,
      "retweet_count" : "5",
      "id" : "1234567890123456789",
      "created_at" : "Mon Mar 02 14:07:33 +0000 2020",
      "favorited" : false,
      "full_text" : "Shipped it! 3 &gt; 2 and tests are green https://t.co/Zx9Yw8Vu7T",
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
            "name" : "Open Source",
            "screen_name" : "opensource",
            "indices" : [ "3", "14" ],
            "id_str" : "555",
            "id" : "555"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "47" ],
      "favorite_count" : "0",
      "id_str" : "1234567890123456790",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1234567890123456790",
      "created_at" : "Mon Mar 02 15:00:00 +0000 2020",
      "favorited" : false,
      "full_text" : "RT @opensource: Release notes are out for v2.0",
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
        "user_mentions" : [ ],
        "urls" : [ ]
      },
      "display_text_range" : [ "0", "18" ],
      "favorite_count" : "2",
      "id_str" : "1234567890123456791",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1234567890123456791",
      "created_at" : "Tue Mar 03 07:30:00 +0000 2020",
      "favorited" : false,
      "full_text" : "おはようございます☕ 今日も頑張ろう",
      "lang" : "ja"
    }
  }
]
