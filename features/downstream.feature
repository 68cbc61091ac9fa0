Feature: Sync modes and downstream reactions
  The five sync modes decide when a caller gets its answer; projectors and
  sagas react to committed events. The same scenarios run on the embedded
  log and on Kafka. The platform is the poker example: the player, hand and
  table aggregates (the player domain with its upcaster), the hand-flow
  process manager, the bankroll projector (sync), the transfer-settlement saga
  (debits the payer of a transfer) and the hand-settlement saga (moves a
  hand's chips into the players' bankrolls).

  Scenario: ASYNC answers once the command is durable, before any decision
    When a player "Ada" registers with sync mode ASYNC
    Then the answer carries no events
    And eventually "Ada" has 1 event recorded

  Scenario: DECISION answers with the committed events
    When a player "Ada" registers with sync mode DECISION
    Then the answer carries a PlayerRegistered event at sequence 0

  Scenario: SIMPLE returns the sync projector's projection
    Given a player "Ada" with $100
    When "Ada" deposits $50 with sync mode SIMPLE
    Then the answer carries the bankroll projection $150 for "Ada"

  Scenario: CASCADE waits for the saga's commands, recursively
    Given a player "Ada" with $0
    And a player "Bob" with $100
    When "Ada" receives a transfer of $30 from "Bob" with sync mode CASCADE
    Then the answer carries the bankroll projection $70 for "Bob"
    And "Bob" has a balance of $70

  Scenario: A saga command that is refused is reported by CASCADE
    Given a player "Ada" with $0
    And a player "Bob" with $10
    When "Ada" receives a transfer of $30 from "Bob" with sync mode CASCADE
    Then the answer reports a cascade error from "transfer-settlement" containing "insufficient funds"
    And "Bob" has a balance of $10

  Scenario: ISOLATED events are persisted but nothing downstream reacts
    Given a player "Ada" with $0
    And a player "Bob" with $100
    When "Ada" receives a transfer of $30 from "Bob" with sync mode ISOLATED
    Then the answer carries a FundsTransferred event at sequence 1
    When "Ada" deposits $5 with sync mode SIMPLE
    Then the audit projector saw sequences 0 and 2 of "Ada" but not 1
    And "Bob" has a balance of $100

  Scenario: The event stream delivers the events of one correlation id, and only those
    Given a subscription to correlation "stream-1"
    When a player "Ada" registers with correlation "stream-1"
    And a player "Bob" registers with correlation "stream-2"
    Then the subscription receives exactly 1 event, a PlayerRegistered of "Ada"

  Scenario: A finished hand settles into the players' bankrolls, across domains
    Given a player "Ada" with $100
    And a player "Bob" with $100
    When a hand is dealt to "Ada" and "Bob" with 100 chips each
    And "Bob" posts a blind of 10 with sync mode CASCADE
    And "Ada" bets 30 with sync mode CASCADE
    And the pot of 40 is awarded to "Ada" with sync mode CASCADE
    Then "Ada" has a balance of $110
    And "Bob" has a balance of $90

  Scenario: A process manager runs a table's hand across the table and hand domains
    Given a player "Ada" with $100
    And a player "Bob" with $100
    And a table "Main" where "Ada" and "Bob" sit with 100 chips each
    When the table "Main" starts a hand with correlation "hand-main-1"
    Then eventually the hand is dealt to "Ada" and "Bob" by the process manager
    And eventually the hand-flow process of "hand-main-1" is at phase "dealing" with 1 event
    When "Bob" posts a blind of 10 with sync mode DECISION
    And "Ada" bets 10 with sync mode DECISION
    And the pot of 20 is awarded to "Ada" with sync mode DECISION
    Then eventually the table "Main" has no hand in progress and "Ada" has 110 chips there
    And eventually the hand-flow process of "hand-main-1" is at phase "ended" with 2 events
    And "Bob" has a balance of $90

  Scenario: ISOLATED events reach no process manager
    Given a player "Ada" with $100
    And a player "Bob" with $100
    And a table "Quiet" where "Ada" and "Bob" sit with 100 chips each
    And a table "Busy" where "Ada" and "Bob" sit with 100 chips each
    When the table "Quiet" starts a hand with correlation "hand-quiet" and sync mode ISOLATED
    And the table "Busy" starts a hand with correlation "hand-busy"
    Then eventually the hand-flow process of "hand-busy" is at phase "dealing" with 1 event
    And the hand-flow process of "hand-quiet" has no events

  Scenario: Events stored by an earlier release are upcast on read, never rewritten
    Given "Old" was registered by the first release of the player logic
    Then the book of "Old" starts with a PlayerRegistered named "Old"
    And the log still stores a PlayerRegisteredV1 for "Old"
    When "Old" deposits $5 with sync mode SIMPLE
    Then the answer carries the bankroll projection $5 for "Old"
    And the audit projector saw sequences 0 and 1 of "Old"
