Feature: Player bankroll
  A player registers once, then deposits and withdraws money. Every rule
  below must hold whatever language the player aggregate is written in and
  whichever log (embedded or Kafka) stores its events.

  Background:
    Given a new player aggregate

  Scenario: Depositing adds to the balance
    Given a registered player with $100 balance
    When they deposit $50
    Then their balance is $150
    And a FundsDeposited event is recorded

  Scenario: Registering a player
    When a player registers as "Ada" with email "ada@example.com"
    Then a PlayerRegistered event is recorded
    And their balance is $0

  Scenario: A player cannot register twice
    Given a registered player with $0 balance
    When a player registers as "Ada" with email "ada@example.com"
    Then the command is rejected with "player already exists"
    And no new event is recorded

  Scenario: Depositing to a player that does not exist
    When they deposit $50
    Then the command is rejected with "player does not exist"
    And no new event is recorded

  Scenario: Depositing a non-positive amount
    Given a registered player with $100 balance
    When they deposit $0
    Then the command is rejected with "amount must be positive"
    And their balance is $100

  Scenario: Withdrawing within the balance
    Given a registered player with $100 balance
    When they withdraw $30
    Then their balance is $70
    And a FundsWithdrawn event is recorded

  Scenario: Overdraft is refused
    Given a registered player with $100 balance
    When they withdraw $150
    Then the command is rejected with "insufficient funds"
    And their balance is $100

  Scenario: Reserved funds cannot be withdrawn
    Given a registered player with $100 balance
    And they reserve $80 for table "t1"
    When they withdraw $50
    Then the command is rejected with "insufficient funds"
    When they release the reservation for table "t1"
    And they withdraw $50
    Then their balance is $50

  Scenario: A transfer credits the player
    Given a registered player with $100 balance
    When they receive a transfer of $25
    Then their balance is $125
    And a FundsTransferred event is recorded

  Scenario: A stale sequence is refused
    Given a registered player with $100 balance
    When they deposit $50 expecting sequence 0
    Then the command is rejected as a sequence mismatch
    And their balance is $100
    And no new event is recorded
