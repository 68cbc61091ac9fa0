Feature: A projector takes one book per call or many
  Every client library serves angzarr_kafka.ProjectorBatchService.HandleBatch
  beside angzarr.ProjectorService.Handle for a projector built with it, with
  no extra code from its author. A batch is applied book by book, in order,
  exactly as the same books handed to Handle one at a time, and is answered
  with one projection per book. A call fails as a whole; the coordinator then
  hands the same books over again, and a projector that is idempotent by
  sequence ends up applying each event once.

  Background:
    Given a ledger projector

  Scenario: A batch is applied in order, with one projection per book
    When it is handed a batch of books: "A" with 2 events, "B" with 1 event, "A" with 3 events
    Then the call answers 3 projections
    And projection 1 is for root "A" at sequence 1
    And projection 2 is for root "B" at sequence 0
    And projection 3 is for root "A" at sequence 4
    And the ledger holds 5 events of root "A" and 1 event of root "B"

  Scenario: The same books one at a time through Handle apply the same
    When it is handed books one at a time: "A" with 2 events, "B" with 1 event, "A" with 3 events
    Then the ledger holds 5 events of root "A" and 1 event of root "B"

  Scenario: A batch handed over again changes nothing
    When it is handed a batch of books: "A" with 2 events, "B" with 1 event
    And the same batch is handed over again
    Then the call answers 2 projections
    And the ledger holds 2 events of root "A" and 1 event of root "B"

  Scenario: A refused book fails the whole call, and the batch handed over again is applied once
    Given the projector refuses events of root "X"
    When it is handed a batch of books: "A" with 2 events, "X" with 1 event, "B" with 1 event
    Then the call fails with a message containing "refused"
    When the projector stops refusing
    And the same batch is handed over again
    Then the call answers 3 projections
    And the ledger holds 2 events of root "A" and 1 event of root "X"

  Scenario: An empty batch is answered with no projections
    When it is handed a batch of books: none
    Then the call answers 0 projections
